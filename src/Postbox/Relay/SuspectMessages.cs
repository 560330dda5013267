namespace Postbox.Relay;

/// <summary>
/// Finds the one message whose publish breaks the transport's connection (a broker limit Postbox does not know),
/// so it cannot make the relay flap between "broker down" and "broker back" forever at the expense of the others.
/// </summary>
/// <remarks>
/// An outage that ends at the first probe (the broker is reachable at once: it closed the connection rather than
/// went away) is a <em>flap</em>, and the messages that were in flight when it happened are suspects. A message
/// caught in two flaps is <em>isolated</em>: it is published only while no other isolated message is in flight, with
/// its own publish timeout. If its publish alone breaks the connection and a probe succeeds at once, it is charged
/// the attempt (and goes dead after its last one); the other messages of the flaps are charged nothing. Innocent
/// messages caught in two flaps are only slowed (published one at a time) until they are delivered. A broker that
/// really stops is not a flap (the first probe fails), so an ordinary outage makes nobody a suspect.
/// </remarks>
internal sealed class SuspectMessages : IDisposable
{
    private const int FlapsToIsolate = 2;
    private static readonly TimeSpan Memory = TimeSpan.FromMinutes(30);

    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, (int Flaps, DateTimeOffset Until)> _suspects = [];
    private int _count;

    public SuspectMessages(TimeProvider timeProvider) => _timeProvider = timeProvider;

    /// <summary>Lets one isolated message be in flight at a time.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>Whether any message is isolated (a cheap check on the publish path).</summary>
    public bool Any => Volatile.Read(ref _count) > 0;

    /// <summary>Records a flap: <paramref name="inFlight"/> were handed back by it.</summary>
    public void Flapped(IReadOnlyList<Guid> inFlight)
    {
        var now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            foreach (var (id, entry) in _suspects.ToList())
            {
                if (entry.Until < now)
                {
                    _suspects.Remove(id);
                }
            }

            foreach (var id in inFlight)
            {
                var flaps = _suspects.TryGetValue(id, out var entry) ? entry.Flaps + 1 : 1;
                _suspects[id] = (flaps, now + Memory);
            }

            Volatile.Write(ref _count, _suspects.Count);
        }
    }

    /// <summary>Whether <paramref name="id"/> must be published alone.</summary>
    public bool IsIsolated(Guid id)
    {
        lock (_lock)
        {
            return _suspects.TryGetValue(id, out var entry) && entry.Flaps >= FlapsToIsolate;
        }
    }

    /// <summary>The message was delivered: it is no suspect.</summary>
    public void Cleared(Guid id)
    {
        lock (_lock)
        {
            if (_suspects.Remove(id))
            {
                Volatile.Write(ref _count, _suspects.Count);
            }
        }
    }

    public void Dispose() => Gate.Dispose();
}
