using Npgsql;

namespace Postbox.PostgreSql;

/// <summary>Owns the data source Postbox created from a connection string (and disposes it); borrows one passed in.</summary>
internal sealed class PostgreSqlDataSourceHolder : IAsyncDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource;
    private readonly bool _owned;

    public PostgreSqlDataSourceHolder(NpgsqlDataSource? external, Func<NpgsqlDataSource> create)
    {
        _owned = external is null;
        _dataSource = external is null ? new Lazy<NpgsqlDataSource>(create) : new Lazy<NpgsqlDataSource>(external);
    }

    public NpgsqlDataSource DataSource => _dataSource.Value;

    public async ValueTask DisposeAsync()
    {
        if (_owned && _dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync().ConfigureAwait(false);
        }
    }
}
