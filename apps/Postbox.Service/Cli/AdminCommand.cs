using System.CommandLine;
using System.Globalization;
using Postbox.Monitoring;

namespace Postbox.Service.Cli;

/// <summary>
/// <c>admin</c>: the dashboard's read and repair actions for operators without a browser (list dead letters, show a
/// message with its error history, replay, retry now, delete), over the same <see cref="IPostboxMonitor"/>. Exit codes
/// are in <see cref="AdminExitCodes"/>.
/// </summary>
internal static class AdminCommand
{
    public static Command Create(Func<ParseResult, Func<AdminSession, Task<int>>, CancellationToken, Task<int>> run)
    {
        var admin = new Command("admin",
            "Operator actions on the outbox and inbox without a browser: overview, list, show, replay, retry, delete, pause, resume, paused. " +
            "Exit codes: 0 done, 1 bad arguments, 2 bad configuration, 3 a named message was not found or not in a state the action applies to, 4 the store failed.");

        var side = new Option<string?>("--side") { Description = "outbox or inbox. Default: both for overview and the actions by id, inbox for list." };
        side.AcceptOnlyFromAmong("outbox", "inbox");
        var consumer = new Option<string?>("--consumer") { Description = "Only this consumer's inbox rows (e.g. mail-sender)." };
        var topic = new Option<string?>("--topic") { Description = "Only this topic." };
        var key = new Option<string?>("--key") { Description = "Only this ordering key." };
        var ids = new Argument<Guid[]>("ids") { Description = "Message ids.", Arity = ArgumentArity.ZeroOrMore };

        var overview = Leaf("overview", "Counts by state, per topic (outbox) and per consumer (inbox), and the oldest pending message.", side);
        overview.SetAction((r, t) => run(r, s => s.OverviewAsync(Sides(r.GetValue(side))), t));

        var state = new Option<string>("--state") { Description = "ready, in-flight, scheduled, dead or done. Default: dead.", DefaultValueFactory = _ => "dead" };
        state.AcceptOnlyFromAmong([.. AdminRendering.StateNames.Select(s => s.Name)]);
        var limit = new Option<int>("--limit") { Description = $"Rows per page, 1 to {MessageQuery.MaxLimit}. Default: 50.", DefaultValueFactory = _ => 50 };
        limit.Validators.Add(v =>
        {
            // Not GetValue: on a token that is no int (abc, 99999999999) it throws, and the parser has reported it already.
            if (v.Tokens is [var token] && int.TryParse(token.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
                && value is < 1 or > MessageQuery.MaxLimit)
            {
                v.AddError($"--limit must be between 1 and {MessageQuery.MaxLimit}.");
            }
        });
        var after = new Option<string?>("--after") { Description = "The cursor printed under the previous page." };
        var list = Leaf("list", "One page of messages in a state (dead letters by default), newest first (scheduled: soonest due first).", side, state, topic, consumer, key, limit, after);
        list.SetAction((r, t) => run(r, s => s.ListAsync(new MessageQuery(Side(r.GetValue(side)) ?? MessageSide.Inbox, State(r.GetValue(state)!),
            new MessageFilter(r.GetValue(topic), r.GetValue(consumer), r.GetValue(key)), r.GetValue(after), r.GetValue(limit))), t));

        var id = new Argument<Guid>("id") { Description = "The message id." };
        var show = Leaf("show", "A message in full: headers, payload, attempts, error history, lease owner (every consumer's row for the inbox).", side, consumer);
        show.Arguments.Add(id);
        show.SetAction((r, t) => run(r, s => s.ShowAsync(r.GetValue(id), Sides(r.GetValue(side)), r.GetValue(consumer)), t));

        var all = new Option<bool>("--all") { Description = "Every dead letter matching --side, --topic, --consumer and --key, with a progress bar." };
        var replay = Leaf("replay", "Replays dead letters (by id, or --all): due at once with a fresh attempt budget; their error history is kept.",
            side, consumer, topic, key, all);
        replay.Arguments.Add(ids);
        replay.Validators.Add(v =>
        {
            var some = v.GetValue(ids) is { Length: > 0 };
            if (some == v.GetValue(all))
            {
                v.AddError("Give the ids to replay, or --all (with optional --side, --topic, --consumer, --key), not both.");
            }
            else if (some && (v.GetValue(topic) is not null || v.GetValue(key) is not null))
            {
                v.AddError("--topic and --key select messages for --all; with ids, only --side and --consumer narrow them.");
            }
        });
        replay.SetAction((r, t) => run(r, s => r.GetValue(all)
            ? s.ReplayAllAsync(Sides(r.GetValue(side)), new MessageFilter(r.GetValue(topic), r.GetValue(consumer), r.GetValue(key)))
            : s.ActAsync(AdminAction.Replay, r.GetValue(ids)!, Sides(r.GetValue(side)), r.GetValue(consumer)), t));

        var retry = Leaf("retry", "Makes scheduled messages (delayed, or waiting for a retry) due now.", side, consumer);
        retry.Arguments.Add(ids);
        RequireIds(retry, ids);
        retry.SetAction((r, t) => run(r, s => s.ActAsync(AdminAction.RetryNow, r.GetValue(ids)!, Sides(r.GetValue(side)), r.GetValue(consumer)), t));

        var yes = new Option<bool>("--yes") { Description = "Confirms the delete (required: a deleted message is gone for good)." };
        var delete = Leaf("delete", "Deletes messages for good: outbox rows that are ready, scheduled or dead; inbox rows that are scheduled or dead.",
            side, consumer, yes);
        delete.Arguments.Add(ids);
        RequireIds(delete, ids);
        delete.Validators.Add(v =>
        {
            if (!v.GetValue(yes))
            {
                v.AddError("delete removes messages for good: add --yes to confirm.");
            }
        });
        delete.SetAction((r, t) => run(r, s => s.ActAsync(AdminAction.Delete, r.GetValue(ids)!, Sides(r.GetValue(side)), r.GetValue(consumer)), t));

        foreach (var command in new[] { list, show, replay, retry, delete })
        {
            // Outbox rows have no consumer: with --side outbox it selected nothing (replay --all: "0 replayed", exit 0) or was
            // ignored (list: every row), never what was asked.
            command.Validators.Add(v =>
            {
                if (v.GetValue(side) == "outbox" && v.GetValue(consumer) is not null)
                {
                    v.AddError("--consumer names inbox rows; outbox messages have no consumer (drop it, or use --side inbox).");
                }
            });
        }

        // pause outbox <topic> | pause inbox <consumer>; resume the same; paused lists them. Durable (the store's pauses
        // table): every relay and worker sees it within a second or two, and it outlives restarts.
        Command PauseCommand(string name, string description, Func<AdminSession, MessageSide, string, Task<int>> act)
        {
            var command = new Command(name, description);
            foreach (var (sideName, sideValue, what) in new[] { ("outbox", MessageSide.Outbox, "topic"), ("inbox", MessageSide.Inbox, "consumer") })
            {
                var target = new Argument<string>(what) { Description = sideValue == MessageSide.Outbox ? "The topic (e.g. mail.send)." : "The consumer (e.g. mail-sender)." };
                var leaf = Leaf(sideName, $"{description} ({(sideValue == MessageSide.Outbox ? "publishing of an outbox topic" : "consuming of an inbox consumer")}).");
                leaf.Arguments.Add(target);
                leaf.SetAction((r, t) => run(r, s => act(s, sideValue, r.GetValue(target)!), t));
                command.Subcommands.Add(leaf);
            }

            return command;
        }

        var pause = PauseCommand("pause", "Pauses, durably and for every relay and worker", (s, side, name) => s.PauseAsync(side, name));
        var resume = PauseCommand("resume", "Resumes what was paused", (s, side, name) => s.ResumeAsync(side, name));
        var paused = Leaf("paused", "Lists the paused outbox topics and inbox consumers, with when and by whom.");
        paused.SetAction((r, t) => run(r, s => s.PausedAsync(), t));

        foreach (var command in new[] { overview, list, show, replay, retry, delete, pause, resume, paused })
        {
            admin.Subcommands.Add(command);
        }

        return admin;
    }

    private static Command Leaf(string name, string description, params Option[] options)
    {
        // Unmatched tokens are configuration (--Section:Key=value), checked like the other commands' before the host is built.
        var command = new Command(name, description) { TreatUnmatchedTokensAsErrors = false };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        return command;
    }

    private static void RequireIds(Command command, Argument<Guid[]> ids) =>
        command.Validators.Add(v =>
        {
            if (v.GetValue(ids) is not { Length: > 0 })
            {
                v.AddError($"Give the id(s) of the message(s) to {command.Name}.");
            }
        });

    private static MessageSide? Side(string? side) => side switch
    {
        "outbox" => MessageSide.Outbox,
        "inbox" => MessageSide.Inbox,
        _ => null,
    };

    private static MessageSide[] Sides(string? side) => Side(side) is { } one ? [one] : [MessageSide.Outbox, MessageSide.Inbox];

    private static MessageState State(string state) => AdminRendering.StateNames.First(s => s.Name == state).State;
}
