namespace Postbox.Storage;

/// <summary>Applies a store's versioned schema migrations.</summary>
public interface IPostboxMigrator
{
    /// <summary>
    /// Applies every migration not yet applied, in order. Idempotent, and safe when several processes
    /// call it at the same time.
    /// </summary>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>The versions applied by this call (empty when the schema was current).</returns>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default);
}
