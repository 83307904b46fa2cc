package io.pgproxy.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/**
 * libpq's rule for a client's private key file: readable by its owner only (u=rw, 0600), or also
 * by the group (0640) when root owns it, so a key the whole machine can read is refused before
 * it is ever used.
 */
final class KeyFilePermissions {
    private static final Set<PosixFilePermission> OWNER_ONLY = EnumSet.of(
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    private static final Set<PosixFilePermission> ROOT_AND_GROUP = EnumSet.of(
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_READ);

    private KeyFilePermissions() {
    }

    static void check(Path key) throws TlsMaterialException {
        PosixFileAttributes a;
        try {
            a = Files.readAttributes(key, PosixFileAttributes.class);
        } catch (UnsupportedOperationException notPosix) {
            return;
        } catch (IOException e) {
            throw new TlsMaterialException(key, "cannot read the private key: " + e.getMessage(), e);
        }
        boolean rootOwned = a.owner().getName().equals("root");
        Set<PosixFilePermission> allowed = rootOwned ? ROOT_AND_GROUP : OWNER_ONLY;
        if (!allowed.containsAll(a.permissions())) {
            throw new TlsMaterialException(key, "the private key file has group or world access; it must have "
                    + "permissions u=rw (0600) or less" + (rootOwned ? ", or u=rw,g=r (0640) when owned by root" : ""), null);
        }
    }
}
