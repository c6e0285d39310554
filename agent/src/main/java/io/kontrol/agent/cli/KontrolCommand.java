package io.kontrol.agent.cli; public class KontrolCommand { public static void main(String[] a){} }
