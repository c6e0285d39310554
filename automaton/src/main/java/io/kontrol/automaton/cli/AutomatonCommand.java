package io.kontrol.automaton.cli; public class AutomatonCommand { public static void main(String[] a){} }
