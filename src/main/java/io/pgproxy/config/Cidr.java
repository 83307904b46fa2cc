package io.pgproxy.config;

import java.net.InetAddress;
import java.util.Arrays;

/**
 * A client address range of a pg_hba rule: {@code 10.0.0.0/8}, {@code 2001:db8::/32}, or one
 * address ({@code /32} or {@code /128} implied). An IPv4 range never matches an IPv6 client and
 * the other way round, as in PostgreSQL (the JDK already reports IPv4-mapped IPv6 peers as IPv4).
 */
public record Cidr(InetAddress network, int prefixLength) {
    public Cidr {
        int bits = network.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length must be between 0 and " + bits);
        }
        byte[] masked = mask(network.getAddress(), prefixLength);
        if (!Arrays.equals(masked, network.getAddress())) {
            throw new IllegalArgumentException("the address has bits set past its /" + prefixLength + " prefix");
        }
    }

    /** Parses {@code address[/prefix]} without any DNS lookup; the message says what is wrong. */
    public static Cidr parse(String text) {
        int slash = text.indexOf('/');
        String address = slash < 0 ? text : text.substring(0, slash);
        InetAddress network;
        try {
            network = InetAddress.ofLiteral(address.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("\"" + address + "\" is not an IPv4 or IPv6 address");
        }
        int bits = network.getAddress().length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String digits = text.substring(slash + 1).trim();
            if (digits.isEmpty() || digits.length() > 3 || !digits.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("\"" + digits + "\" is not a prefix length");
            }
            prefix = Integer.parseInt(digits);
        }
        return new Cidr(network, prefix);
    }

    public boolean contains(InetAddress client) {
        byte[] a = client.getAddress();
        return a.length == network.getAddress().length && Arrays.equals(mask(a, prefixLength), network.getAddress());
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] m = address.clone();
        for (int i = 0; i < m.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            m[i] &= (byte) (0xFF << (8 - keep));
        }
        return m;
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }
}
