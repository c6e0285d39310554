package io.kontrol.proxy.cluster;

/** One partition's offsets for a group, as Pixy reports them ({@code count = end - begin}, {@code lag = end - offset}). */
public record PartitionOffset(
    int partition, long begin, long end, long count, long offset, long lag, String metadata) {}
