package io.pgproxy.protocol.message;

/** The status byte of ReadyForQuery. Unknown bytes map to UNKNOWN rather than throwing. */
public enum TransactionStatus {
    IDLE, IN_TRANSACTION, FAILED, UNKNOWN;

    public static TransactionStatus of(byte b) {
        return switch (b) {
            case 'I' -> IDLE;
            case 'T' -> IN_TRANSACTION;
            case 'E' -> FAILED;
            default -> UNKNOWN;
        };
    }

    public byte code() {
        return switch (this) {
            case IDLE -> 'I';
            case IN_TRANSACTION -> 'T';
            case FAILED -> 'E';
            case UNKNOWN -> '?';
        };
    }
}
