using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Postbox.EntityFrameworkCore.Tests.Infrastructure;

namespace Postbox.EntityFrameworkCore.Tests;

/// <summary>Messages enqueued through a DbContext commit with its entity changes or not at all, on each provider.</summary>
public abstract class OutboxThroughDbContextTests<TStore> : IAsyncLifetime
    where TStore : TestStore, new()
{
    private ServiceProvider _services = null!;

    protected TStore Store { get; } = new();

    protected IOutbox Outbox => _services.GetRequiredService<IOutbox>();

    public async Task InitializeAsync()
    {
        await Store.InitializeAsync();
        var services = new ServiceCollection();
        services.AddLogging();
        Store.UseStore(services.AddPostbox(o => o.Relay.Enabled = false));
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await Store.DisposeAsync();
    }

    private static OutboxMessage Message(string body = "created") => new("orders.created", Encoding.UTF8.GetBytes(body));

    [Fact]
    public async Task SaveChangesAsync_WithoutTransaction_CommitsEntityAndMessageTogether()
    {
        await using var db = Store.NewContext();
        var message = Message();
        db.Orders.Add(new Order { Number = "A-1" });
        await Outbox.EnqueueAsync(db, message);

        // Staged, not written: nothing is in the outbox before the save.
        Assert.Equal(0, await Store.MessagesAsync());
        await db.SaveChangesAsync();

        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(1, await Store.MessagesAsync());
        Assert.Null(db.Database.CurrentTransaction);

        // Committed and cleared: a second save writes nothing more.
        db.Orders.Add(new Order { Number = "A-2" });
        await db.SaveChangesAsync();
        Assert.Equal(1, await Store.MessagesAsync());
        Assert.Equal(2, await Store.OrdersAsync());
    }

    [Fact]
    public async Task SaveChanges_Synchronous_CommitsEntityAndMessageTogether()
    {
        await using var db = Store.NewContext();
        db.Orders.Add(new Order { Number = "S-1" });
        await Outbox.EnqueueAsync(db, Message());
        db.SaveChanges();

        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(1, await Store.MessagesAsync());
        Assert.Null(db.Database.CurrentTransaction);
    }

    [Fact]
    public async Task SaveChangesAsync_WithOnlyAMessage_WritesIt()
    {
        await using var db = Store.NewContext();
        await Outbox.EnqueueAsync(db, Message());
        await db.SaveChangesAsync();

        Assert.Equal(1, await Store.MessagesAsync());
    }

    [Fact]
    public async Task SaveChangesAsync_UniqueViolation_LeavesNeitherEntitiesNorMessage_AndTheRetriedSaveCommitsBoth()
    {
        await using (var seed = Store.NewContext())
        {
            seed.Orders.Add(new Order { Number = "B-1" });
            await seed.SaveChangesAsync();
        }

        await using var db = Store.NewContext();
        var fresh = new Order { Number = "B-2" };
        var duplicate = new Order { Number = "B-1" };
        db.Orders.AddRange(fresh, duplicate);
        await Outbox.EnqueueAsync(db, Message());

        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(0, await Store.MessagesAsync());
        Assert.Null(db.Database.CurrentTransaction);

        // The message stayed staged: once the cause is removed, the next save commits it with the entity.
        db.Entry(duplicate).State = EntityState.Detached;
        await db.SaveChangesAsync();
        Assert.Equal(2, await Store.OrdersAsync());
        Assert.Equal(1, await Store.MessagesAsync());
    }

    [Fact]
    public async Task SaveChanges_Synchronous_UniqueViolation_LeavesNeitherEntitiesNorMessage()
    {
        await using (var seed = Store.NewContext())
        {
            seed.Orders.Add(new Order { Number = "C-1" });
            await seed.SaveChangesAsync();
        }

        await using var db = Store.NewContext();
        db.Orders.AddRange(new Order { Number = "C-2" }, new Order { Number = "C-1" });
        await Outbox.EnqueueAsync(db, Message());

        Assert.Throws<DbUpdateException>(() => db.SaveChanges());
        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(0, await Store.MessagesAsync());
    }

    [Fact]
    public async Task ExplicitTransaction_RolledBack_LeavesNoMessage()
    {
        await using var db = Store.NewContext();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            db.Orders.Add(new Order { Number = "D-1" });
            await db.SaveChangesAsync();
            await Outbox.EnqueueAsync(db, Message());
            await transaction.RollbackAsync();
        }

        Assert.Equal(0, await Store.OrdersAsync());
        Assert.Equal(0, await Store.MessagesAsync());
    }

    [Fact]
    public async Task ExplicitTransaction_Committed_CommitsBoth_WithoutUsePostbox()
    {
        // With a transaction, the message is written at once on it: the interceptor is not needed.
        await using var db = Store.NewContext(postbox: false);
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            await Outbox.EnqueueAsync(db, Message());
            db.Orders.Add(new Order { Number = "E-1" });
            await db.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(1, await Store.MessagesAsync());
    }

    [Fact]
    public async Task StagedMessage_SavedInsideAnExplicitTransactionThenRolledBack_LeavesNoMessage()
    {
        await using var db = Store.NewContext();
        await Outbox.EnqueueAsync(db, Message());
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            db.Orders.Add(new Order { Number = "F-1" });
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        Assert.Equal(0, await Store.OrdersAsync());
        Assert.Equal(0, await Store.MessagesAsync());
    }

    [Fact]
    public async Task Enqueue_WithoutTransactionOrUsePostbox_ThrowsAndStagesNothing()
    {
        await using var db = Store.NewContext(postbox: false);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Outbox.EnqueueAsync(db, Message()));
        Assert.Contains("UsePostbox", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_InvalidMessage_FailsAtTheCall_AndLaterSavesAreUnaffected()
    {
        await using var db = Store.NewContext();
        var message = Message();
        await Outbox.EnqueueAsync(db, message);
        // The same id staged twice is refused at once, not at SaveChanges.
        await Assert.ThrowsAsync<ArgumentException>(() => Outbox.EnqueueAsync(db, new OutboxMessage("orders.created", Encoding.UTF8.GetBytes("x")) { Id = message.Id }));
        await Assert.ThrowsAsync<ArgumentException>(() => Outbox.EnqueueAsync(db, new OutboxMessage(" ", Encoding.UTF8.GetBytes("x"))));

        db.Orders.Add(new Order { Number = "G-1" });
        await db.SaveChangesAsync();
        Assert.Equal(1, await Store.MessagesAsync());
    }

    [Fact]
    public async Task PooledContext_StagedButNeverSaved_DoesNotLeakToTheNextLease()
    {
        var options = new DbContextOptionsBuilder<ShopContext>();
        Store.UseProvider(options);
        var factory = new PooledDbContextFactory<ShopContext>(options.UsePostbox().Options, poolSize: 1);
        ShopContext first;
        await using (first = factory.CreateDbContext())
        {
            await Outbox.EnqueueAsync(first, Message("abandoned"));
        }

        await using var second = factory.CreateDbContext();
        Assert.Same(first, second);
        second.Orders.Add(new Order { Number = "H-1" });
        await second.SaveChangesAsync();

        Assert.Equal(1, await Store.OrdersAsync());
        Assert.Equal(0, await Store.MessagesAsync());
    }
}

public sealed class PostgreSqlOutboxThroughDbContextTests : OutboxThroughDbContextTests<PostgreSqlTestStore>;

public sealed class SqliteOutboxThroughDbContextTests : OutboxThroughDbContextTests<SqliteTestStore>;
