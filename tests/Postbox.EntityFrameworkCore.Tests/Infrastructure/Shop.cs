using Microsoft.EntityFrameworkCore;

namespace Postbox.EntityFrameworkCore.Tests.Infrastructure;

public sealed class Order
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>Unique: a second order with the same number fails the save.</summary>
    public string Number { get; set; } = "";
}

/// <summary>A handler's effect; no unique key, so a double effect shows as two rows.</summary>
public sealed class Effect
{
    public long Id { get; set; }

    public Guid MessageId { get; set; }

    public string Body { get; set; } = "";
}

public sealed class ShopContext(DbContextOptions<ShopContext> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();

    public DbSet<Effect> Effects => Set<Effect>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Order>(o =>
        {
            o.ToTable("orders");
            o.HasIndex(x => x.Number).IsUnique();
        });
        modelBuilder.Entity<Effect>().ToTable("effects");
    }
}
