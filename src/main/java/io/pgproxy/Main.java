package io.pgproxy; public class Main { public static void main(String[] a){} }
