using Npgsql;

namespace Postbox.PostgreSql;

/// <summary>
/// The connection pools of the PostgreSQL store. From a connection string Postbox builds two pools: one for its own
/// statements, which leave no session state behind and so skip the reset on reuse (<c>No Reset On Close</c>), and one
/// for handler code (the inbox transaction), whose connections are reset (<c>DISCARD ALL</c>) when they go back, so a
/// handler's <c>SET</c>, temp table or session advisory lock cannot reach the next handler or the relay. Owns (and
/// disposes) the pools it built; borrows a data source passed in, which then serves both.
/// </summary>
internal sealed class PostgreSqlDataSourceHolder : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _postbox;
    private readonly Lazy<NpgsqlDataSource> _handlers;
    private readonly bool _owned;

    public PostgreSqlDataSourceHolder(NpgsqlDataSource? external, Func<string> connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        _owned = external is null;
        if (external is not null)
        {
            _postbox = new Lazy<NpgsqlDataSource>(external);
            _handlers = _postbox;
        }
        else
        {
            _postbox = new Lazy<NpgsqlDataSource>(() => Create(connectionString(), noReset: true));
            _handlers = new Lazy<NpgsqlDataSource>(() => Create(connectionString(), noReset: false));
        }
    }

    /// <summary>Postbox's own statements: claims, settles, cleanup, inbox bookkeeping, migrations.</summary>
    public NpgsqlDataSource DataSource => _postbox.Value;

    /// <summary>The inbox transactions handed to handler code: connections reset on return.</summary>
    public NpgsqlDataSource HandlerDataSource => _handlers.Value;

    /// <summary>Whether handlers and Postbox's own statements share one pool (a data source passed in).</summary>
    public bool SharedPool => !_owned;

    public async ValueTask DisposeAsync()
    {
        if (!_owned)
        {
            return;
        }

        if (_postbox.IsValueCreated)
        {
            await _postbox.Value.DisposeAsync().ConfigureAwait(false);
        }

        if (_handlers.IsValueCreated)
        {
            await _handlers.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Postbox's own statements leave no session state behind (locks are transaction-scoped; the migrator's session
    // lock is released before the connection goes back; LISTEN runs on an unpooled connection of its own), so the
    // reset on reuse (DISCARD ALL, a transaction of its own on the server) is skipped for them: it would double the
    // statements an idle relay issues. Handler code is arbitrary, so its pool keeps the reset whatever the string says.
    private static NpgsqlDataSource Create(string connectionString, bool noReset) =>
        new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = noReset }.ConnectionString).Build();
}
