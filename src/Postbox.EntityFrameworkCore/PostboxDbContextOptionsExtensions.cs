using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Postbox.EntityFrameworkCore;

/// <summary>Turns on Postbox for a <see cref="DbContext"/>'s options.</summary>
public static class PostboxDbContextOptionsExtensions
{
    /// <summary>
    /// Lets <see cref="PostboxDbContextExtensions.EnqueueAsync(IOutbox, DbContext, OutboxMessage, CancellationToken)"/>
    /// stage messages on a context that has no transaction: the next <c>SaveChanges</c>/<c>SaveChangesAsync</c> writes
    /// them in the same transaction as the entity changes (beginning one if none is open, and committing it after the
    /// save), so the entities and the messages are stored together or not at all.
    /// </summary>
    /// <remarks>
    /// Call it after the provider (<c>UseNpgsql</c>, <c>UseSqlite</c>), e.g.
    /// <c>services.AddDbContext&lt;ShopContext&gt;(o =&gt; o.UseNpgsql(connectionString).UsePostbox())</c>. The context's
    /// database must be the one the Postbox store uses (same PostgreSQL database, same SQLite file). Not compatible with
    /// a retrying execution strategy (<c>EnableRetryOnFailure</c>), which refuses the transaction this begins: with one,
    /// use an explicit transaction inside <c>Database.CreateExecutionStrategy().ExecuteAsync(...)</c>.
    /// </remarks>
    /// <param name="optionsBuilder">The context's options.</param>
    /// <returns><paramref name="optionsBuilder"/>, for chaining.</returns>
    public static DbContextOptionsBuilder UsePostbox(this DbContextOptionsBuilder optionsBuilder)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        if (optionsBuilder.Options.FindExtension<PostboxOptionsExtension>() is null)
        {
            ((IDbContextOptionsBuilderInfrastructure)optionsBuilder).AddOrUpdateExtension(new PostboxOptionsExtension());
            optionsBuilder.AddInterceptors(OutboxSaveChangesInterceptor.Instance);
        }

        return optionsBuilder;
    }

    /// <inheritdoc cref="UsePostbox(DbContextOptionsBuilder)"/>
    /// <typeparam name="TContext">The context type.</typeparam>
    public static DbContextOptionsBuilder<TContext> UsePostbox<TContext>(this DbContextOptionsBuilder<TContext> optionsBuilder)
        where TContext : DbContext =>
        (DbContextOptionsBuilder<TContext>)UsePostbox((DbContextOptionsBuilder)optionsBuilder);
}
