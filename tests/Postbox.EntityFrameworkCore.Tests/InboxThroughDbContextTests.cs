using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;
using Postbox.EntityFrameworkCore.Tests.Infrastructure;
using Postbox.Retry;
using Postbox.Transport;
using Postbox.Transport.InMemory;

namespace Postbox.EntityFrameworkCore.Tests;

public sealed record PaymentReceived(string Body);

/// <summary>What the handler does: counted attempts, and which attempts fail after the EF save.</summary>
public sealed class PaymentScript
{
    public ConcurrentDictionary<Guid, int> Attempts { get; } = new();

    public Func<MessageContext, bool> FailAfterSave { get; set; } = _ => false;

    public bool CommitItself { get; set; }
}

/// <summary>Writes an effect through a scoped DbContext enlisted in the inbox transaction.</summary>
public sealed class PaymentHandler(ShopContext db, PaymentScript script) : IMessageHandler<PaymentReceived>
{
    public async Task HandleAsync(PaymentReceived message, MessageContext context, CancellationToken cancellationToken)
    {
        script.Attempts.AddOrUpdate(context.MessageId, 1, static (_, n) => n + 1);
        await db.UseInboxTransactionAsync(context, cancellationToken);
        db.Effects.Add(new Effect { MessageId = context.MessageId, Body = message.Body });
        await db.SaveChangesAsync(cancellationToken);
        if (script.CommitItself)
        {
            await db.Database.CommitTransactionAsync(cancellationToken);
        }

        // Fail after the save: the rollback must take the EF changes with it.
        if (script.FailAfterSave(context))
        {
            throw new InvalidOperationException($"Scripted failure of attempt {context.Attempt}.");
        }
    }
}

/// <summary>
/// Handlers doing their work through EF on the inbox's connection and transaction: the work commits once per message,
/// with the inbox record, on each provider.
/// </summary>
public abstract class InboxThroughDbContextTests<TStore> : IAsyncLifetime
    where TStore : TestStore, new()
{
    private const string Topic = "payments";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    protected TStore Store { get; } = new();

    public Task InitializeAsync() => Store.InitializeAsync();

    public async Task DisposeAsync() => await Store.DisposeAsync();

    private IHost Build(PaymentScript script)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(script);
        builder.Services.AddDbContext<ShopContext>(o => Store.UseProvider(o.UsePostbox()));
        var postbox = builder.Services.AddPostbox(o => o.Relay.Enabled = false);
        Store.UseStore(postbox);
        postbox.UseInMemoryTransport()
            .UseInMemoryConsumerSource()
            .ConfigureConsumers(o => { o.RetryPollInterval = TimeSpan.FromMilliseconds(50); o.HandleSignals = false; })
            .AddHandler<PaymentReceived, PaymentHandler>(Topic, o =>
            {
                o.ConsumerName = "payments-ef";
                o.Concurrency = 4;
                o.RetryPolicy = RetryPolicy.Fixed(TimeSpan.FromMilliseconds(50));
            });
        return builder.Build();
    }

    /// <summary>Delivers one copy of message <paramref name="id"/> and waits until the consumer settled it.</summary>
    private static async Task DeliverAsync(IHost host, Guid id, string body = "paid")
    {
        var transport = host.Services.GetRequiredService<InMemoryTransport>();
        var envelope = new OutboxEnvelope(id, 1, Topic, null, nameof(PaymentReceived), JsonSerializer.SerializeToUtf8Bytes(new PaymentReceived(body), JsonSerializerOptions.Web),
            new Dictionary<string, string>(), DateTimeOffset.UtcNow, 0, null);
        using var timeout = new CancellationTokenSource(Wait);
        while (true)
        {
            try
            {
                await transport.PublishAsync(envelope, timeout.Token);
                return;
            }
            catch (TransportException)
            {
                // The consumer has not subscribed yet.
                await Task.Delay(50, timeout.Token);
            }
        }
    }

    [Fact]
    public async Task SameMessageDeliveredTwice_HandlerWritingThroughEf_HasOneEffect()
    {
        var script = new PaymentScript();
        using var host = Build(script);
        await host.StartAsync();
        var id = Guid.CreateVersion7();

        // Concurrently, then once more after the first committed.
        await Task.WhenAll(DeliverAsync(host, id), DeliverAsync(host, id));
        await TestEnvironment.WaitUntilAsync(async () => await Store.EffectsAsync() >= 1, Wait, "the effect committed");
        await DeliverAsync(host, id);
        await host.StopAsync();

        Assert.Equal(1, await Store.EffectsAsync());
    }

    [Fact]
    public async Task AttemptFailsAfterEfSave_EfChangesRollBackWithTheInbox_RetryCommitsOneEffect()
    {
        // Without the enlistment, EF would commit the first attempt's row on its own connection: two effects.
        var script = new PaymentScript { FailAfterSave = c => c.Attempt == 1 };
        using var host = Build(script);
        await host.StartAsync();
        var id = Guid.CreateVersion7();

        await DeliverAsync(host, id);
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(script.Attempts.GetValueOrDefault(id) >= 2), Wait, "the retry ran");
        await TestEnvironment.WaitUntilAsync(async () => await Store.EffectsAsync() >= 1, Wait, "the retry committed");
        await DeliverAsync(host, id);
        await host.StopAsync();

        Assert.Equal(1, await Store.EffectsAsync());
        Assert.Equal(2, script.Attempts[id]);
    }

    [Fact]
    public async Task HandlerCommitsTheInboxTransactionItself_IsRefusedAsMisuse_AndNeverRetried()
    {
        var script = new PaymentScript { CommitItself = true };
        using var host = Build(script);
        await host.StartAsync();
        var id = Guid.CreateVersion7();

        await DeliverAsync(host, id);
        var admin = host.Services.GetRequiredService<IInboxAdmin>();
        InboxEntry? entry = null;
        // PostgreSQL writes the inbox row when the transaction begins, so the handler's commit took it along
        // (processed); SQLite writes it at the runtime's commit, which the handler pre-empted (dead, naming the mistake).
        await TestEnvironment.WaitUntilAsync(async () => (entry = await admin.GetAsync("payments-ef", id, default)) is { State: InboxState.Processed or InboxState.Dead },
            Wait, "the attempt settled");
        await DeliverAsync(host, id);
        await host.StopAsync();

        Assert.Equal(1, script.Attempts[id]);
        if (entry!.State == InboxState.Dead)
        {
            Assert.Contains(nameof(HandlerMisuseException), Assert.Single(entry.Errors).Error, StringComparison.Ordinal);
        }
    }
}

public sealed class PostgreSqlInboxThroughDbContextTests : InboxThroughDbContextTests<PostgreSqlTestStore>;

public sealed class SqliteInboxThroughDbContextTests : InboxThroughDbContextTests<SqliteTestStore>;
