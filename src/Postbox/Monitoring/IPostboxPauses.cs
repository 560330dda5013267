namespace Postbox.Monitoring;

/// <summary>
/// Durable pause and resume of publishing an outbox topic and of consuming an inbox consumer (as asynqmon's "pause
/// queue"). Pauses are rows in the store, so they survive restarts and every relay and worker sees them: a relay reads
/// them in each claim, a worker polls them every <c>ConsumerOptions.PausePollInterval</c> (1 s by default). Registered
/// by <c>UsePostgreSql</c>, <c>UseSqlite</c> and <c>UseMySql</c>.
/// </summary>
/// <remarks>
/// <para>Outbox: a paused topic's messages are not published; messages already being published finish. Other topics,
/// and keyed messages of other keys, flow untouched; per-key order and at-least-once are kept. Resume makes the topic's
/// messages flow again (on PostgreSQL the relays are woken at once, elsewhere at their next poll).</para>
/// <para>Inbox: a paused consumer (the handler's consumer name) takes no new deliveries in any worker and none of its
/// retries runs; deliveries already running finish. Resume restarts it.</para>
/// <para>Pausing a name that has no messages (yet) is allowed: it takes effect when they arrive.</para>
/// </remarks>
public interface IPostboxPauses
{
    /// <summary>The longest name (topic or consumer) that can be paused, in characters (255).</summary>
    const int MaxNameLength = 255;

    /// <summary>Pauses publishing of outbox topic <paramref name="name"/> or consuming of inbox consumer <paramref name="name"/>.</summary>
    /// <param name="side">Outbox (a topic) or inbox (a consumer).</param>
    /// <param name="name">The topic or consumer name, exactly (names are case-sensitive).</param>
    /// <param name="pausedBy">Who paused it (a user name, shown by the dashboard and the CLI); optional, at most 200 characters.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when it was not paused before; <see langword="false"/> when it already was (the first pause is kept).</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space, longer than <see cref="MaxNameLength"/> or contains a NUL character, or <paramref name="pausedBy"/> is longer than 200 characters.</exception>
    Task<bool> PauseAsync(MessageSide side, string name, string? pausedBy, CancellationToken cancellationToken);

    /// <summary>Resumes a paused topic or consumer.</summary>
    /// <param name="side">Outbox (a topic) or inbox (a consumer).</param>
    /// <param name="name">The topic or consumer name.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when it was paused; <see langword="false"/> when it was not (nothing changed).</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space, longer than <see cref="MaxNameLength"/> or contains a NUL character.</exception>
    Task<bool> ResumeAsync(MessageSide side, string name, CancellationToken cancellationToken);

    /// <summary>Everything paused now, outbox topics first, then inbox consumers, each by name (ordinal).</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<IReadOnlyList<PausedName>> ListAsync(CancellationToken cancellationToken);
}
