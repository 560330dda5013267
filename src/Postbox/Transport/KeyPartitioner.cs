using System.Text;

namespace Postbox.Transport;

/// <summary>
/// Maps an ordering key to one of N partitions with a stable hash, so every process (relay, workers, any version)
/// agrees on where a key's messages go. Used by the RabbitMQ transport to choose a key's partition queue.
/// </summary>
/// <remarks>
/// The hash is 32-bit FNV-1a over the key's UTF-8 bytes, reduced modulo N. It is part of the wire contract: changing it
/// would move keys between partitions, exactly like changing N (see <c>docs/ordering.md</c>, "Changing the number of
/// partitions"). A Kafka transport does not need it: Kafka's producer partitions by the record key itself.
/// </remarks>
internal static class KeyPartitioner
{
    private const uint OffsetBasis = 2166136261;
    private const uint Prime = 16777619;

    /// <summary>The partition of <paramref name="key"/>, from 0 to <paramref name="partitions"/> − 1.</summary>
    /// <param name="key">The ordering key (any string; compared ordinally).</param>
    /// <param name="partitions">Number of partitions, at least 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitions"/> is below 1.</exception>
    public static int PartitionOf(string key, int partitions)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        Span<byte> stack = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetMaxByteCount(key.Length) <= stack.Length ? stack : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, bytes);
        var hash = OffsetBasis;
        foreach (var b in bytes[..length])
        {
            hash = unchecked((hash ^ b) * Prime);
        }

        return (int)(hash % (uint)partitions);
    }
}
