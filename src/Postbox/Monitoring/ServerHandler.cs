namespace Postbox.Monitoring;

/// <summary>One handler a worker runs.</summary>
/// <param name="Topic">The topic it consumes.</param>
/// <param name="Consumer">The consumer name (the inbox's <c>consumer</c>).</param>
/// <param name="Concurrency">How many messages it handles at once.</param>
public sealed record ServerHandler(string Topic, string Consumer, int Concurrency);
