package io.pgproxy;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Undoes a signal disposition inherited from the parent process. A process started with SIGHUP
 * ignored ({@code nohup}, some supervisors) keeps it ignored, and HotSpot refuses to install a
 * handler for an ignored SIGHUP: {@code sun.misc.Signal.handle} just returns {@code SIG_IGN}, so
 * every reload would be silently lost. The JDK has no API to change a disposition, so this calls
 * libc's {@code signal(sig, SIG_DFL)} through java.lang.foreign; after it the JVM installs the
 * handler as usual.
 */
final class SignalDisposition {
    private SignalDisposition() {
    }

    /** Sets {@code signal}'s disposition to the default; false when libc could not be called. */
    static boolean resetToDefault(int signal) {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle libcSignal = linker.downcallHandle(
                    linker.defaultLookup().find("signal").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            // SIG_DFL is the null handler; SIG_ERR is (void *) -1.
            MemorySegment previous = (MemorySegment) libcSignal.invokeExact(signal, MemorySegment.NULL);
            return previous.address() != -1L;
        } catch (Throwable e) {
            // No native access (a platform without libc's signal, or --enable-native-access=deny).
            return false;
        }
    }
}
