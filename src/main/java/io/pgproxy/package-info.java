/** Entry point: arguments, configuration, signals, start; and the demo mode. */
package io.pgproxy;
