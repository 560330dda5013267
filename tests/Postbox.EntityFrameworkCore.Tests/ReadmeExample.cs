// The example of src/Postbox.EntityFrameworkCore/README.md, compiled and run by ReadmeExampleTests; the README
// shows the text between each "README:...:begin" and ":end" marker verbatim (a test checks it).
using Microsoft.Extensions.DependencyInjection;

// Outside the Postbox namespaces, so the example's usings are exactly what a user's code needs.
namespace ShopExample;

// README:model:begin
using Microsoft.EntityFrameworkCore;
using Postbox;
using Postbox.Consumers;
using Postbox.EntityFrameworkCore;

public sealed class Order
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public string Email { get; set; } = "";
}

public sealed class Shipment
{
    public Guid OrderId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed record OrderPlaced(Guid OrderId, string Email);

public sealed class ShopDbContext(DbContextOptions<ShopDbContext> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();
    public DbSet<Shipment> Shipments => Set<Shipment>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<Shipment>().HasKey(s => s.OrderId);
}
// README:model:end

public static class ReadmeExample
{
    public static void Register(IServiceCollection services, string connectionString)
    {
        // README:register:begin
        services.AddDbContext<ShopDbContext>(o => o.UseNpgsql(connectionString).UsePostbox());
        services.AddPostbox(o => o.MigrateOnStart = true)
            .UsePostgreSql(connectionString)
            .UseInMemoryTransport()          // or .UseRabbitMQ(...) and .UseRabbitMQConsumers(...)
            .UseInMemoryConsumerSource()
            .AddHandler<OrderPlaced, ShipOrderHandler>("orders.placed");
        // README:register:end
    }

    // README:enqueue:begin
    public static async Task<Guid> PlaceOrderAsync(ShopDbContext db, IOutbox outbox, string email, CancellationToken cancellationToken)
    {
        var order = new Order { Email = email };
        db.Orders.Add(order);

        // Staged on the context: SaveChanges writes the order and the message in one transaction, or neither.
        await outbox.EnqueueAsync(db, OutboxMessage.FromJson("orders.placed", new OrderPlaced(order.Id, email), key: order.Id.ToString()),
            cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return order.Id;
    }
    // README:enqueue:end
}

// README:handle:begin
public sealed class ShipOrderHandler(ShopDbContext db) : IMessageHandler<OrderPlaced>
{
    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        // The context joins the inbox transaction: the shipment commits with the record that this message was handled,
        // so a redelivered copy finds it handled and ships nothing twice. Do not commit here: the runtime does.
        await db.UseInboxTransactionAsync(context, cancellationToken);
        db.Shipments.Add(new Shipment { OrderId = message.OrderId, CreatedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync(cancellationToken);
    }
}
// README:handle:end
