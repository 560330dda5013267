using System.Data.Common;
using Postbox.Service.Data;

namespace Postbox.Service.Customers;

/// <summary>The <c>customers</c> table.</summary>
internal sealed class CustomerStore(AppDatabase database)
{
    private readonly string _customers = database.Table("customers");

    /// <summary>Inserts a customer; <see langword="false"/> when the address is taken.</summary>
    public async Task<bool> InsertAsync(DbTransaction transaction, CustomerCreated customer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(customer);
        await using var command = AppDatabase.Command(transaction.Connection!, transaction, database.Dialect($"""
            INSERT INTO {_customers} (id, email, name, created_at) VALUES (@id, @email, @name, @now) ON CONFLICT (email) DO NOTHING
            """), ("id", database.Id(customer.Id)), ("email", customer.Email), ("name", customer.Name), ("now", customer.CreatedAt));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<CustomerView?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await GetAsync(connection, null, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads on <paramref name="transaction"/>'s connection: a create answers with what it wrote before committing, so no
    /// second connection (possibly a stale pooled one) is needed after the commit, when the request can no longer be retried.
    /// </summary>
    public Task<CustomerView?> GetAsync(DbTransaction transaction, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        return GetAsync(transaction.Connection!, transaction, id, cancellationToken);
    }

    private async Task<CustomerView?> GetAsync(DbConnection connection, DbTransaction? transaction, Guid id, CancellationToken cancellationToken)
    {
        await using var command = AppDatabase.Command(connection, transaction,
            $"SELECT id, email, name, created_at, event_handled_count, event_handled_at FROM {_customers} WHERE id = @id", ("id", database.Id(id)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new CustomerView(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5))
            : null;
    }

    /// <summary>The handler's effect, through the inbox transaction: it commits with the inbox row, so it happens once.</summary>
    public async Task RecordEventHandledAsync(DbTransaction transaction, Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        await using var command = AppDatabase.Command(transaction.Connection!, transaction, $"""
            UPDATE {_customers} SET event_handled_count = event_handled_count + 1, event_handled_at = COALESCE(event_handled_at, @now) WHERE id = @id
            """, ("id", database.Id(id)), ("now", now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
