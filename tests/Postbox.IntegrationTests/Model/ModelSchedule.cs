using System.Text;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Model;

/// <summary>One seeded schedule: random steps against the store, each checked against the model.</summary>
internal sealed class ModelSchedule : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly string[] Topics = ["t0", "t1", "t2", "poison"];

    private readonly Random _random;
    private readonly IModelStore _store;
    private readonly bool _block;
    private readonly bool _deleteDelivered;
    private readonly int _batch;
    private readonly int _maxAttempts;
    private readonly int _steps;
    private readonly string[] _keys;
    private readonly List<ModelRelay> _relays = [];
    private readonly Dictionary<Guid, ModelMessage> _messages = [];
    private readonly List<ModelMessage> _bySeq = [];
    private readonly List<(ModelTransaction Tx, IOpenTransaction Open)> _open = [];
    private readonly HashSet<string> _failingTopics = [];
    private readonly Queue<string> _trace = new();
    private DateTimeOffset _now = T0;
    private bool _outage;
    private bool _draining;
    private int _txCounter;
    private int _relayCounter;

    public ModelSchedule(int seed, IModelStore store)
    {
        _random = new Random(seed);
        _store = store;
        _block = _random.Next(2) == 0;
        _deleteDelivered = _random.Next(3) != 0; // delete on confirm is the default, so two schedules in three
        _batch = _random.Next(1, 9);
        _maxAttempts = _random.Next(2, 6);
        _steps = _random.Next(80, 200);
        _keys = [.. Enumerable.Range(0, _random.Next(1, 7)).Select(i => $"k{i}")];
        var relays = _random.Next(1, 4);
        for (var i = 0; i < relays; i++)
        {
            _relays.Add(NewRelay());
        }
    }

    public int Step { get; private set; }

    /// <summary>Rolls back transactions a failed schedule left open, so the store can be dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (_, open) in _open)
        {
            await open.DisposeAsync();
        }

        _open.Clear();
    }

    public string Describe() =>
        $"policy {(_block ? "Block" : "Skip")}, batch {_batch}, max attempts {_maxAttempts}, {_relays.Count} relays, {_keys.Length} keys, " +
        $"{(_deleteDelivered ? "delete" : "keep")} delivered, {(_store.SupportsOpenTransactions ? "open transactions" : "no open transactions")}";

    public string Trace() => string.Join(Environment.NewLine, _trace);

    public async Task<int> RunAsync()
    {
        for (Step = 1; Step <= _steps; Step++)
        {
            var roll = _random.Next(100);
            switch (roll)
            {
                case < 22: await EnqueueAsync(); break;
                case < 28: await FinishOpenTransactionAsync(); break;
                case < 50: await ClaimAsync(Pick(_relays)); break;
                case < 72: await PublishAsync(Pick(_relays), settle: true); break;
                case < 74: await CrashAsync(Pick(_relays), publishFirst: false); break;
                case < 76: await CrashAsync(Pick(_relays), publishFirst: true); break;
                case < 86: Advance(TimeSpan.FromSeconds(_random.Next(1, 25))); break;
                case < 90: ToggleTopicFailure(); break;
                case < 93: ToggleOutage(); break;
                default: await ReplayDeadAsync(all: false); break;
            }
        }

        await DrainAsync();
        return Step;
    }

    private ModelRelay NewRelay() => new($"relay-{++_relayCounter}");

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private void Note(string text)
    {
        _trace.Enqueue($"  [{Step}] {text}");
        if (_trace.Count > 40)
        {
            _trace.Dequeue();
        }
    }

    private static void Fail(string text) => throw new ModelViolationException(text);

    private async Task EnqueueAsync()
    {
        var count = _random.Next(4) == 0 ? _random.Next(2, 12) : 1;
        var hotKey = _random.Next(5) == 0 ? Pick(_keys) : null;
        var batch = new List<OutboxMessage>();
        for (var i = 0; i < count; i++)
        {
            var key = hotKey ?? (_random.Next(10) < 7 ? Pick(_keys) : null);
            var delayed = _random.Next(7) == 0;
            batch.Add(new OutboxMessage(Pick(Topics), "{}"u8.ToArray())
            {
                Key = key,
                AvailableAt = delayed ? _now + TimeSpan.FromSeconds(_random.Next(1, 60)) : null,
                MaxAttempts = _maxAttempts,
            });
        }

        var tx = new ModelTransaction(++_txCounter, Step);
        var open = await _store.BeginEnqueueAsync(batch, _now);
        foreach (var m in batch)
        {
            var model = new ModelMessage(m.Id, m.Key, m.Topic, _bySeq.Count, tx)
            {
                State = m.AvailableAt is { } at && at > _now ? ModelState.Scheduled : ModelState.Ready,
                AvailableAt = m.AvailableAt is { } due && due > _now ? due : _now,
            };
            _messages.Add(m.Id, model);
            _bySeq.Add(model);
        }

        var keep = _store.SupportsOpenTransactions && _random.Next(10) < 3;
        Note($"enqueue tx{tx.Id} {count} ({string.Join(",", batch.Select(b => b.Key ?? "-"))}){(keep ? " left open" : "")}");
        if (keep)
        {
            _open.Add((tx, open));
        }
        else
        {
            await FinishAsync(tx, open, commit: _random.Next(10) != 0);
        }
    }

    private async Task FinishOpenTransactionAsync()
    {
        if (_open.Count == 0)
        {
            return;
        }

        var (tx, open) = _open[_random.Next(_open.Count)];
        _open.RemoveAll(o => o.Tx == tx);
        await FinishAsync(tx, open, commit: _random.Next(5) != 0);
    }

    private async Task FinishAsync(ModelTransaction tx, IOpenTransaction open, bool commit)
    {
        await using (open)
        {
            if (commit)
            {
                await open.CommitAsync();
                tx.CommittedAt = Step;
            }
            else
            {
                await open.RollbackAsync();
                tx.RolledBack = true;
            }
        }

        Note($"{(commit ? "commit" : "rollback")} tx{tx.Id}");
    }

    /// <summary>Claims like the relay: again at once while the store says more may be waiting.</summary>
    private async Task ClaimAsync(ModelRelay relay)
    {
        var rounds = 0;
        var claimedAny = false;
        while (rounds++ < _keys.Length + 3)
        {
            var result = await _store.Store.ClaimAsync(new ClaimRequest(relay.Owner, _batch, _now, _now + Lease, _block, relay.Cursor), CancellationToken.None);
            relay.Cursor = result.NextKeyCursor;
            if (result.Messages.Count > _batch)
            {
                Fail($"claim returned {result.Messages.Count} messages for a batch of {_batch}");
            }

            if (result.Messages.Count > 0)
            {
                CheckClaim(relay, result.Messages);
                relay.Held.Add([.. result.Messages]);
                claimedAny = true;
                Note($"{relay.Owner} claimed {string.Join(" ", result.Messages.Select(e => Name(_messages[e.Id])))}");
            }

            if (!result.MayHaveMore)
            {
                break;
            }
        }

        if (!claimedAny && FirstClaimable() is { } stalled)
        {
            Fail($"stall: {relay.Owner} claimed nothing although {Name(stalled)} is claimable");
        }
    }

    private void CheckClaim(ModelRelay relay, IReadOnlyList<OutboxEnvelope> claimed)
    {
        var inBatch = new HashSet<Guid>();
        long last = -1;
        foreach (var e in claimed)
        {
            if (!_messages.TryGetValue(e.Id, out var m))
            {
                Fail($"claimed an unknown message {e.Id}");
                return;
            }

            if (e.Sequence <= last)
            {
                Fail("claim not in sequence order");
            }

            last = e.Sequence;
            if (!m.Tx.Committed)
            {
                Fail($"claimed {Name(m)} whose transaction tx{m.Tx.Id} is {(m.Tx.RolledBack ? "rolled back" : "not committed")}");
            }

            if (!IsDue(m))
            {
                Fail($"claimed {Name(m)} in state {m.State} (available at {m.AvailableAt:HH:mm:ss}, now {_now:HH:mm:ss}, owner {m.Owner})");
            }

            if (m.Key is not null && EarlierBlocking(m, inBatch) is { } earlier)
            {
                Fail($"claimed {Name(m)} while the earlier {Name(earlier)} of its key is {earlier.State}");
            }

            inBatch.Add(m.Id);
            m.State = ModelState.InFlight;
            m.Owner = relay.Owner;
            m.AvailableAt = _now + Lease;
        }
    }

    private bool IsDue(ModelMessage m) => m.State switch
    {
        ModelState.Ready => true,
        ModelState.InFlight or ModelState.Scheduled => m.AvailableAt <= _now,
        _ => false,
    };

    /// <summary>An earlier committed message of <paramref name="m"/>'s key that must be settled first, if any.</summary>
    private ModelMessage? EarlierBlocking(ModelMessage m, HashSet<Guid>? sameBatch = null)
    {
        for (var i = m.Seq - 1; i >= 0; i--)
        {
            var e = _bySeq[i];
            if (e.Key != m.Key || !e.Tx.Committed || (sameBatch?.Contains(e.Id) ?? false))
            {
                continue;
            }

            if (e.State == ModelState.Delivered || (e.State == ModelState.Dead && !_block))
            {
                continue;
            }

            return e;
        }

        return null;
    }

    private ModelMessage? FirstClaimable() =>
        _bySeq.FirstOrDefault(m => m.Tx.Committed && IsDue(m) && (m.Key is null || EarlierBlocking(m) is null));

    private async Task PublishAsync(ModelRelay relay, bool settle)
    {
        if (relay.Held.Count == 0)
        {
            return;
        }

        var batch = relay.Held[0];
        relay.Held.RemoveAt(0);
        var delivered = new List<Guid>();
        var failed = new List<DeliveryFailure>();
        var released = new List<Guid>();
        var stopped = new HashSet<string>();
        foreach (var e in batch)
        {
            var m = _messages[e.Id];
            if (m.Key is not null && stopped.Contains(m.Key))
            {
                released.Add(m.Id);
                continue;
            }

            if (_outage)
            {
                // A failure of the transport as a whole: handed back, no attempt counted.
                released.Add(m.Id);
                continue;
            }

            var attempt = e.Attempts + 1;
            if (m.Topic == "poison" && !_draining && _random.Next(2) == 0)
            {
                failed.Add(new DeliveryFailure(m.Id, "poison", _now, Dead: true));
            }
            else if (_failingTopics.Contains(m.Topic))
            {
                failed.Add(new DeliveryFailure(m.Id, "topic down", _now + TimeSpan.FromSeconds(_random.Next(2, 40)), Dead: attempt >= _maxAttempts));
            }
            else
            {
                Published(relay, m);
                delivered.Add(m.Id);
                continue;
            }

            if (m.Key is not null)
            {
                stopped.Add(m.Key);
            }
        }

        Note($"{relay.Owner} published {delivered.Count}, failed {failed.Count}, released {released.Count}{(settle ? "" : " (not settled)")}");
        if (!settle)
        {
            return;
        }

        var changed = await _store.Store.SettleAsync(new SettleRequest(relay.Owner, _now, delivered, failed, released, _deleteDelivered), CancellationToken.None);
        var expected = 0;
        foreach (var id in delivered.Concat(failed.Select(f => f.Id)).Concat(released))
        {
            var m = _messages[id];
            if (m.State != ModelState.InFlight || m.Owner != relay.Owner)
            {
                continue; // Lost its lease to another relay: the store must not change it.
            }

            expected++;
            m.Owner = null;
            if (delivered.Contains(id))
            {
                m.State = ModelState.Delivered;
            }
            else if (released.Contains(id))
            {
                m.State = ModelState.Ready;
                m.AvailableAt = _now;
            }
            else
            {
                var f = failed.First(x => x.Id == id);
                m.Attempts++;
                m.State = f.Dead ? ModelState.Dead : ModelState.Scheduled;
                m.WasDead |= f.Dead;
                m.AvailableAt = f.NextAttemptAt;
            }
        }

        if (changed != expected)
        {
            Fail($"settle by {relay.Owner} changed {changed} rows; the relay still owned {expected}");
        }
    }

    private void Published(ModelRelay relay, ModelMessage m)
    {
        if (!m.Tx.Committed)
        {
            Fail($"published {Name(m)} whose transaction is not committed");
        }

        // A relay past its lease is a zombie: whatever it publishes may also be published by the relay that took over.
        var expired = m.Owner != relay.Owner || m.AvailableAt < _now;
        if (m.Publications > 0 && !(m.DuplicateExcused || expired))
        {
            Fail($"{Name(m)} published twice without a crash or an expired lease");
        }

        m.DuplicateExcused |= expired;
        if (m.Publications++ > 0)
        {
            return;
        }

        // First publication: every earlier message of the key from a transaction that committed before this one began
        // must have been published first (or be dead under the skip policy).
        if (m.Key is null)
        {
            return;
        }

        for (var i = m.Seq - 1; i >= 0; i--)
        {
            var e = _bySeq[i];
            if (e.Key == m.Key && e.Tx.CommittedAt is { } committed && committed < m.Tx.BeganAt && e.Publications == 0 && !(e.WasDead && !_block))
            {
                Fail($"per-key order: {Name(m)} published before the earlier {Name(e)}");
            }
        }
    }

    private async Task CrashAsync(ModelRelay relay, bool publishFirst)
    {
        if (publishFirst && relay.Held.Count > 0)
        {
            foreach (var e in relay.Held[0])
            {
                _messages[e.Id].DuplicateExcused = true;
            }

            await PublishAsync(relay, settle: false);
        }

        Note($"{relay.Owner} crashed holding {relay.Held.Sum(b => b.Count)}");
        var index = _relays.IndexOf(relay);
        _relays[index] = NewRelay();
    }

    private void Advance(TimeSpan by)
    {
        _now += by;
        Note($"clock +{by.TotalSeconds}s");
    }

    private void ToggleTopicFailure()
    {
        var topic = Pick(Topics[..3]);
        if (!_failingTopics.Remove(topic))
        {
            _failingTopics.Add(topic);
        }

        Note($"topic {topic} {(_failingTopics.Contains(topic) ? "failing" : "back")}");
    }

    private void ToggleOutage()
    {
        _outage = !_outage;
        Note(_outage ? "transport down" : "transport back");
    }

    private async Task ReplayDeadAsync(bool all)
    {
        var dead = _bySeq.Where(m => m.State == ModelState.Dead).ToList();
        var chosen = all ? dead : dead.Where(_ => _random.Next(2) == 0).ToList();
        if (chosen.Count == 0)
        {
            return;
        }

        var replayed = await _store.Monitor.ReplayDeadAsync([.. chosen.Select(m => m.Id)], CancellationToken.None);
        if (replayed != chosen.Count)
        {
            Fail($"replay of {chosen.Count} dead messages replayed {replayed}");
        }

        foreach (var m in chosen)
        {
            (m.State, m.Attempts, m.AvailableAt) = (ModelState.Ready, 0, _now);
        }

        Note($"replayed {string.Join(" ", chosen.Select(Name))}");
    }

    /// <summary>Faults off, open transactions finished, dead replayed: every committed message must be delivered once.</summary>
    private async Task DrainAsync()
    {
        foreach (var (tx, open) in _open.ToList())
        {
            await FinishAsync(tx, open, commit: true);
        }

        _open.Clear();
        _outage = false;
        _draining = true;
        _failingTopics.Clear();
        var idle = 0;
        for (var round = 0; round < 500 && idle < 3; round++, Step++)
        {
            await ReplayDeadAsync(all: true);
            Advance(TimeSpan.FromMinutes(2));
            var before = _bySeq.Count(m => m.State == ModelState.Delivered);
            foreach (var relay in _relays)
            {
                await ClaimAsync(relay);
                while (relay.Held.Count > 0)
                {
                    await PublishAsync(relay, settle: true);
                }
            }

            idle = _bySeq.Count(m => m.State == ModelState.Delivered) == before ? idle + 1 : 0;
        }

        var lost = _bySeq.Where(m => m.Tx.Committed && (m.State != ModelState.Delivered || m.Publications == 0)).ToList();
        if (lost.Count > 0)
        {
            Fail($"not delivered after the drain: {string.Join(", ", lost.Take(10).Select(m => $"{Name(m)} {m.State}"))}");
        }

        var phantom = _bySeq.Where(m => !m.Tx.Committed && m.Publications > 0).ToList();
        if (phantom.Count > 0)
        {
            Fail($"published although rolled back: {string.Join(", ", phantom.Select(Name))}");
        }

        var statistics = await _store.Monitor.GetStatisticsAsync(CancellationToken.None);
        if (statistics.Ready + statistics.InFlight + statistics.Scheduled + statistics.Dead != 0)
        {
            Fail($"store still holds undelivered messages after the drain: {statistics}");
        }
    }

    private static string Name(ModelMessage m) => $"#{m.Seq}({m.Key ?? "-"}/{m.Topic})";

    private sealed class ModelRelay(string owner)
    {
        public string Owner { get; } = owner;

        public string? Cursor { get; set; }

        public List<List<OutboxEnvelope>> Held { get; } = [];
    }
}

internal enum ModelState
{
    Ready,
    InFlight,
    Scheduled,
    Delivered,
    Dead,
}

internal sealed class ModelTransaction(int id, int beganAt)
{
    public int Id { get; } = id;

    public int BeganAt { get; } = beganAt;

    public int? CommittedAt { get; set; }

    public bool RolledBack { get; set; }

    public bool Committed => CommittedAt is not null;
}

internal sealed class ModelMessage(Guid id, string? key, string topic, int seq, ModelTransaction tx)
{
    public Guid Id { get; } = id;

    public string? Key { get; } = key;

    public string Topic { get; } = topic;

    public int Seq { get; } = seq;

    public ModelTransaction Tx { get; } = tx;

    public ModelState State { get; set; }

    public DateTimeOffset AvailableAt { get; set; }

    public string? Owner { get; set; }

    public int Attempts { get; set; }

    public int Publications { get; set; }

    public bool DuplicateExcused { get; set; }

    public bool WasDead { get; set; }
}
