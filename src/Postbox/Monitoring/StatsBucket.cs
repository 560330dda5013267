namespace Postbox.Monitoring;

/// <summary>
/// What one topic (outbox) or consumer (inbox) did in one minute, summed over every process that wrote to it. Written by
/// the relays and workers with their heartbeats; read by the dashboard's rates and charts.
/// </summary>
/// <param name="Minute">The minute's start (UTC, whole minute).</param>
/// <param name="Side">Outbox (the relay's publishes) or inbox (the handlers' attempts).</param>
/// <param name="Name">The topic (outbox) or consumer (inbox).</param>
/// <param name="Handled">Messages published with a broker confirm (outbox) or handled with a committed inbox transaction (inbox).</param>
/// <param name="Failed">Attempts that failed, the last one of a message that went dead included.</param>
/// <param name="Dead">Messages that went dead (a subset of <paramref name="Failed"/>).</param>
/// <param name="LatencySumMs">Sum over the handled messages of their latency in milliseconds: enqueue to broker confirm
/// (outbox), start of the attempt to commit (inbox).</param>
/// <param name="LatencyMaxMs">The largest of those latencies, in milliseconds.</param>
public sealed record StatsBucket(
    DateTimeOffset Minute,
    MessageSide Side,
    string Name,
    long Handled,
    long Failed,
    long Dead,
    long LatencySumMs,
    long LatencyMaxMs);
