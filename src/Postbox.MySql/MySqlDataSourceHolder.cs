using MySqlConnector;

namespace Postbox.MySql;

/// <summary>Owns the data source Postbox creates from the connection string, created on first use and disposed with the container.</summary>
internal sealed class MySqlDataSourceHolder(string connectionString) : IAsyncDisposable
{
    private readonly Lazy<MySqlDataSource> _dataSource = new(() => new MySqlDataSource(connectionString));

    public MySqlDataSource DataSource => _dataSource.Value;

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync().ConfigureAwait(false);
        }
    }
}
