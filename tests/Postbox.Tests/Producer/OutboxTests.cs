using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Postbox.Hosting;
using Postbox.Producer;
using Postbox.Relay;
using Postbox.Storage;

namespace Postbox.Tests.Producer;

/// <summary>What the outbox does around the store's write: nothing reaches the writer unless every rule holds.</summary>
public sealed class OutboxTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static (Outbox Outbox, RecordingWriter Writer) Create(DateTimeOffset now)
    {
        var clock = new FixedClock(now);
        var writer = new RecordingWriter();
        return (new Outbox(writer, new RelaySignal(clock), clock, Options.Create(new PostboxOptions())), writer);
    }

    [Fact]
    public void Prepare_WithAClockAnsweringWithAnOffset_ReturnsTheSameInstantInUtc()
    {
        var (outbox, _) = Create(T0.ToOffset(TimeSpan.FromHours(9)));

        var now = outbox.Prepare([new OutboxMessage("o", new byte[1])]);

        Assert.Equal((T0, TimeSpan.Zero), (now, now.Offset));
    }

    [Fact]
    public async Task Enqueue_DuplicateIdsOrAnInvalidMessage_NeverReachTheWriter()
    {
        var (outbox, writer) = Create(T0);
        var a = new OutboxMessage("o", new byte[1]);
        var nul = new OutboxMessage("o", new byte[1]) { Key = "\0" };

        await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(new FakeTransaction(), [a, new OutboxMessage("o", new byte[1]) { Id = a.Id }]));
        await Assert.ThrowsAsync<ArgumentException>(() => outbox.EnqueueAsync(new FakeTransaction(), [a, nul]));

        Assert.Equal(0, writer.Calls);
        Assert.True(await outbox.EnqueueAsync(new FakeTransaction(), a));
        Assert.Equal(1, writer.Calls);
    }

    [Fact]
    public void Prepare_ATraceStateTheStoreCannotHold_IsRefusedNamingTheHeader()
    {
        var (outbox, _) = Create(T0);
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
        activity.TraceStateString = "k=v\0";

        var error = Assert.Throws<ArgumentException>(() => outbox.Prepare([new OutboxMessage("o", new byte[1])]));

        Assert.Contains("Header 'tracestate' value contains NUL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_OfMessagesPreparedBefore_KeepsOneCreateSpanEach_ChildOfTheCallersActivity()
    {
        // EF Core's staging prepares the staged messages again at each stage, then enqueues them at SaveChanges.
        var (outbox, _) = Create(T0);
        var a = new OutboxMessage("o", new byte[1]);
        var b = new OutboxMessage("o", new byte[1]);
        var ids = new HashSet<string>(StringComparer.Ordinal) { a.Id.ToString(), b.Id.ToString() };
        var created = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == Postbox.Diagnostics.PostboxActivitySource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = s =>
            {
                if (s.GetTagItem("messaging.message.id") is string id && ids.Contains(id))
                {
                    created.Enqueue(s);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var caller = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();

        outbox.Prepare([a]);
        outbox.Prepare([a, b]);
        await outbox.EnqueueAsync(new FakeTransaction(), [a, b]);

        var spanA = Assert.Single(created, s => (string?)s.GetTagItem("messaging.message.id") == a.Id.ToString());
        var spanB = Assert.Single(created, s => (string?)s.GetTagItem("messaging.message.id") == b.Id.ToString());
        Assert.All([spanA, spanB], s => Assert.Equal(("create o", ActivityKind.Producer, caller.SpanId), (s.DisplayName, s.Kind, s.ParentSpanId)));
        Assert.Equal(spanA.Id, a.Headers[OutboxHeaders.TraceParent]);
        Assert.Equal(spanB.Id, b.Headers[OutboxHeaders.TraceParent]);
        // The caller's activity is current again: code after the enqueue is not attributed to a create span.
        Assert.Same(caller, Activity.Current);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class RecordingWriter : IOutboxWriter
    {
        public int Calls { get; private set; }

        public Task<int> WriteAsync(DbTransaction transaction, IReadOnlyList<OutboxMessage> messages, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult(messages.Count);
        }
    }

    // A transaction whose connection is set, which is all the outbox looks at before the writer.
    private sealed class FakeTransaction : DbTransaction
    {
        public override System.Data.IsolationLevel IsolationLevel => System.Data.IsolationLevel.ReadCommitted;

        protected override DbConnection DbConnection { get; } = new FakeConnection();

        public override void Commit()
        {
        }

        public override void Rollback()
        {
        }
    }

    private sealed class FakeConnection : DbConnection
    {
        [System.Diagnostics.CodeAnalysis.AllowNull]
        public override string ConnectionString { get; set; } = "";

        public override string Database => "";

        public override string DataSource => "";

        public override string ServerVersion => "";

        public override System.Data.ConnectionState State => System.Data.ConnectionState.Open;

        public override void ChangeDatabase(string databaseName) => throw new NotSupportedException();

        public override void Close()
        {
        }

        public override void Open()
        {
        }

        protected override DbTransaction BeginDbTransaction(System.Data.IsolationLevel isolationLevel) => throw new NotSupportedException();

        protected override DbCommand CreateDbCommand() => throw new NotSupportedException();
    }
}
