using System.Data.Common;
using MySqlConnector;

namespace Postbox.MySql;

/// <summary>
/// Conversions between .NET values and the stored ones. Times: <c>DATETIME(6)</c> holds no offset, so every time is
/// written as UTC, truncated to the microsecond (the type's precision) so that a value compares the same before and
/// after a round trip. Ids: <c>BINARY(16)</c> in RFC 4122 (big-endian) byte order, written and read as bytes so the
/// application's <c>GuidFormat</c> setting does not matter.
/// </summary>
internal static class MySqlValues
{
    public static MySqlCommand Command(MySqlConnection connection, string sql) => new(sql, connection);

    /// <summary>
    /// Runs a write at READ COMMITTED. Under InnoDB's default REPEATABLE READ a write whose plan scans (an <c>IN</c> list
    /// on a small table, a range on a secondary index) locks every row and gap it reads, so it waits for producers'
    /// uncommitted inserts and blocks their next ones; at READ COMMITTED it skips rows not yet committed and takes no
    /// gap locks. Found by the model-based test: a settle waited for an enqueue transaction left open.
    /// </summary>
    public static async Task<int> ExecuteReadCommittedAsync(MySqlCommand command, CancellationToken cancellationToken)
    {
        var connection = command.Connection!;
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        command.Transaction = transaction;
        var changed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    public static DateTime ToDb(DateTimeOffset value)
    {
        var ticks = value.UtcTicks;
        return new DateTime(ticks - (ticks % 10), DateTimeKind.Utc);
    }

    public static DateTimeOffset FromDb(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : FromDb(reader.GetDateTime(ordinal));

    public static byte[] ToDb(Guid id) => id.ToByteArray(bigEndian: true);

    /// <summary>Adds one parameter per id (<c>@i0</c>, <c>@i1</c>, …) and returns them comma-separated, for an <c>IN (…)</c> list.</summary>
    public static string AddIds(MySqlCommand command, IEnumerable<Guid> ids)
    {
        var names = new List<string>();
        foreach (var id in ids)
        {
            var name = "@i" + names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            command.Parameters.AddWithValue(name, ToDb(id));
            names.Add(name);
        }

        return string.Join(',', names);
    }

    // With GuidFormat=Binary16 MySqlConnector returns BINARY(16) as a Guid already (same byte order); otherwise bytes.
    public static Guid ReadGuid(DbDataReader reader, int ordinal) => reader.GetValue(ordinal) switch
    {
        Guid guid => guid,
        byte[] bytes => new Guid(bytes, bigEndian: true),
        var other => throw new InvalidCastException($"Expected a BINARY(16) message id, got {other.GetType().Name}."),
    };

    public static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
