using System.Globalization;
using Postbox.Monitoring;
using Spectre.Console;

namespace Postbox.Service.Cli;

/// <summary>
/// The <c>admin</c> actions over one store's <see cref="IPostboxMonitor"/>, written to a console for people (tables, a
/// progress bar) and returning an exit code from <see cref="AdminExitCodes"/> for scripts.
/// </summary>
internal sealed class AdminSession(IPostboxMonitor monitor, IPostboxPauses? pauses, IAnsiConsole console, TimeProvider timeProvider,
    CancellationToken cancellationToken)
{
    // Counting stops here per state (shown as "≥ 100,000"): the overview stays quick on tables of millions of rows.
    private const int CountLimit = 100_000;

    public async Task<int> OverviewAsync(IReadOnlyList<MessageSide> sides)
    {
        foreach (var side in sides)
        {
            var overview = await monitor.GetOverviewAsync(side, CountLimit, cancellationToken).ConfigureAwait(false);
            console.Write(AdminRendering.Overview(overview, timeProvider.GetUtcNow()));
            console.WriteLine();
        }

        if (pauses is not null)
        {
            var paused = (await pauses.ListAsync(cancellationToken).ConfigureAwait(false)).Where(p => sides.Contains(p.Side)).ToList();
            if (paused.Count > 0)
            {
                console.Write(AdminRendering.Paused(paused, timeProvider.GetUtcNow()));
                console.WriteLine();
            }
        }

        return AdminExitCodes.Done;
    }

    /// <summary>Pauses an outbox topic or an inbox consumer; 0 whether or not it was paused already (the first pause is kept).</summary>
    public async Task<int> PauseAsync(MessageSide side, string name)
    {
        if (Refused(name) is { } exit)
        {
            return exit;
        }

        var by = $"admin ({Environment.UserName}@{Environment.MachineName})";
        var fresh = await pauses!.PauseAsync(side, name, by.Length > 200 ? by[..200] : by, cancellationToken).ConfigureAwait(false);
        console.WriteLine(fresh
            ? $"{Describe(side, name)}: paused. Every {(side == MessageSide.Outbox ? "relay" : "worker")} stops taking it within a second or two; 'admin resume {SideName(side)} {name}' undoes it."
            : $"{Describe(side, name)}: was paused already; left as it was.");
        return AdminExitCodes.Done;
    }

    /// <summary>Resumes an outbox topic or an inbox consumer; 3 when it was not paused.</summary>
    public async Task<int> ResumeAsync(MessageSide side, string name)
    {
        if (Refused(name) is { } exit)
        {
            return exit;
        }

        if (!await pauses!.ResumeAsync(side, name, cancellationToken).ConfigureAwait(false))
        {
            console.WriteLine($"{Describe(side, name)}: not paused; nothing to resume.");
            return AdminExitCodes.NotApplicable;
        }

        console.WriteLine($"{Describe(side, name)}: resumed.");
        return AdminExitCodes.Done;
    }

    /// <summary>Lists what is paused.</summary>
    public async Task<int> PausedAsync()
    {
        if (pauses is null)
        {
            return NoPauses();
        }

        var paused = await pauses.ListAsync(cancellationToken).ConfigureAwait(false);
        if (paused.Count == 0)
        {
            console.WriteLine("Nothing is paused.");
        }
        else
        {
            console.Write(AdminRendering.Paused(paused, timeProvider.GetUtcNow()));
        }

        return AdminExitCodes.Done;
    }

    private int? Refused(string name)
    {
        if (pauses is null)
        {
            return NoPauses();
        }

        if (name.Length is 0 or > IPostboxPauses.MaxNameLength)
        {
            Console.Error.WriteLine($"The name must be 1 to {IPostboxPauses.MaxNameLength} characters.");
            return AdminExitCodes.BadArguments;
        }

        if (string.IsNullOrWhiteSpace(name) || name.Contains('\0', StringComparison.Ordinal))
        {
            // No topic or consumer is blank or holds a NUL: such a pause would match nothing (the store refuses it too).
            Console.Error.WriteLine("The name must not be blank or contain a NUL character.");
            return AdminExitCodes.BadArguments;
        }

        return null;
    }

    private static int NoPauses()
    {
        Console.Error.WriteLine("This store keeps no pauses: pause and resume need PostgreSQL, SQLite or MySQL.");
        return AdminExitCodes.StoreFailed;
    }

    private static string SideName(MessageSide side) => side == MessageSide.Outbox ? "outbox" : "inbox";

    private static string Describe(MessageSide side, string name) =>
        side == MessageSide.Outbox ? $"Outbox topic {AdminRendering.Safe(name)}" : $"Inbox consumer {AdminRendering.Safe(name)}";

    public async Task<int> ListAsync(MessageQuery query)
    {
        MessagePage page;
        try
        {
            page = await monitor.ListAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException) when (query.After is not null)
        {
            // A mistyped cursor, or one printed under another list: a wrong argument, not a failure of the store.
            await Console.Error.WriteLineAsync($"--after {query.After} is not a cursor of this list: give the one printed under its previous page (same --side and --state).")
                .ConfigureAwait(false);
            return AdminExitCodes.BadArguments;
        }

        console.Write(AdminRendering.List(query, page));
        console.WriteLine(page.Items.Count == 0 ? "No messages." : $"{page.Items.Count} message(s).");
        if (page.Items.Count == 0 && query is { Side: MessageSide.Outbox, State: MessageState.Done, After: null })
        {
            // Not a sign that nothing was sent: by default the relay deletes each message once the broker confirms it.
            console.WriteLine(AdminRendering.NoDeliveredHistory);
        }

        if (page.Next is not null)
        {
            console.WriteLine($"Next page: --after {page.Next}");
        }

        return AdminExitCodes.Done;
    }

    public async Task<int> ShowAsync(Guid id, IReadOnlyList<MessageSide> sides, string? consumer)
    {
        var shown = 0;
        foreach (var (side, row) in await FindAsync(id, sides, consumer).ConfigureAwait(false))
        {
            if (await monitor.GetAsync(side, row.Ref, cancellationToken).ConfigureAwait(false) is { } detail)
            {
                console.Write(AdminRendering.Detail(side, detail));
                console.WriteLine();
                shown++;
            }
        }

        if (shown == 0)
        {
            console.WriteLine($"{id}: no such message{Where(sides, consumer)}.");
            return AdminExitCodes.NotApplicable;
        }

        return AdminExitCodes.Done;
    }

    /// <summary>Acts on each id's rows the action applies to; says, per id, what it did or why it did nothing.</summary>
    public async Task<int> ActAsync(AdminAction action, IReadOnlyList<Guid> ids, IReadOnlyList<MessageSide> sides, string? consumer)
    {
        var exit = AdminExitCodes.Done;
        foreach (var id in ids.Distinct())
        {
            var rows = await FindAsync(id, sides, consumer).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                console.WriteLine($"{id}: no such message{Where(sides, consumer)}.");
                exit = AdminExitCodes.NotApplicable;
                continue;
            }

            var done = 0;
            foreach (var (side, row) in rows)
            {
                var label = side == MessageSide.Outbox ? "outbox" : $"inbox, {AdminRendering.Safe(row.Consumer)}";
                if (!AppliesTo(action, side, row.State))
                {
                    console.WriteLine($"{id} ({label}): {AdminRendering.StateName(row.State)}; {Verb(action)} applies to {Applicable(action, side)} messages only.");
                    continue;
                }

                MessageRef[] refs = [row.Ref];
                var count = action switch
                {
                    AdminAction.Replay => await monitor.ReplayDeadAsync(side, refs, cancellationToken).ConfigureAwait(false),
                    AdminAction.RetryNow => await monitor.RetryNowAsync(side, refs, cancellationToken).ConfigureAwait(false),
                    _ => await monitor.DeleteAsync(side, refs, cancellationToken).ConfigureAwait(false),
                };
                // Zero: a relay or worker changed its state between the read and the update; the store refused, rightly.
                console.WriteLine(count > 0 ? $"{id} ({label}): {Past(action)}." : $"{id} ({label}): changed state meanwhile; not {Past(action)}.");
                done += count;
            }

            if (done == 0)
            {
                exit = AdminExitCodes.NotApplicable;
            }
        }

        return exit;
    }

    /// <summary>Replays every dead letter matching the filter on each side, batch by batch, with a progress bar.</summary>
    public async Task<int> ReplayAllAsync(IReadOnlyList<MessageSide> sides, MessageFilter filter)
    {
        var total = 0;
        foreach (var side in sides)
        {
            if (side == MessageSide.Outbox && filter.Consumer is not null)
            {
                continue; // outbox rows have no consumer: --consumer names inbox rows only
            }

            // No count first: counting the dead letters of a large table would cost as much as replaying them. The bar
            // shows the running total the monitor reports after each batch.
            var replayed = 0;
            var what = $"Replaying {(side == MessageSide.Outbox ? "outbox" : "inbox")} dead letters";
            await console.Progress().AutoClear(false).StartAsync(async progress =>
            {
                var task = progress.AddTask(what).IsIndeterminate();
                replayed = await monitor.ReplayAllDeadAsync(side, filter,
                    new Progress<int>(n => task.Description = $"{what}: {n.ToString("N0", CultureInfo.InvariantCulture)}"), cancellationToken).ConfigureAwait(false);
                task.IsIndeterminate(false).Value = task.MaxValue;
            }).ConfigureAwait(false);
            console.WriteLine($"{(side == MessageSide.Outbox ? "Outbox" : "Inbox")}: {replayed.ToString("N0", CultureInfo.InvariantCulture)} dead letter(s) replayed.");
            total += replayed;
        }

        // Nothing to replay is not a failure of an --all: scripts can run it on a schedule.
        console.WriteLine($"Replayed {total.ToString("N0", CultureInfo.InvariantCulture)} in all.");
        return AdminExitCodes.Done;
    }

    private async Task<List<(MessageSide Side, MessageSummary Row)>> FindAsync(Guid id, IReadOnlyList<MessageSide> sides, string? consumer)
    {
        var rows = new List<(MessageSide, MessageSummary)>();
        foreach (var side in sides)
        {
            if (side == MessageSide.Outbox && consumer is not null)
            {
                continue;
            }

            foreach (var row in await monitor.FindAsync(side, id, cancellationToken).ConfigureAwait(false))
            {
                if (consumer is null || string.Equals(row.Consumer, consumer, StringComparison.Ordinal))
                {
                    rows.Add((side, row));
                }
            }
        }

        return rows;
    }

    private static bool AppliesTo(AdminAction action, MessageSide side, MessageState state) => action switch
    {
        AdminAction.Replay => state == MessageState.Dead,
        AdminAction.RetryNow => state == MessageState.Scheduled,
        _ => state is MessageState.Scheduled or MessageState.Dead || (side == MessageSide.Outbox && state == MessageState.Ready),
    };

    private static string Applicable(AdminAction action, MessageSide side) => action switch
    {
        AdminAction.Replay => "dead",
        AdminAction.RetryNow => "scheduled",
        _ => side == MessageSide.Outbox ? "ready, scheduled or dead" : "scheduled or dead",
    };

    private static string Verb(AdminAction action) => action switch
    {
        AdminAction.Replay => "replay",
        AdminAction.RetryNow => "retry",
        _ => "delete",
    };

    private static string Past(AdminAction action) => action switch
    {
        AdminAction.Replay => "replayed",
        AdminAction.RetryNow => "due now",
        _ => "deleted",
    };

    private static string Where(IReadOnlyList<MessageSide> sides, string? consumer) =>
        (sides.Count == 1 ? $" in the {(sides[0] == MessageSide.Outbox ? "outbox" : "inbox")}" : " in the outbox or inbox") +
        (consumer is null ? "" : $" for consumer {consumer}");
}
