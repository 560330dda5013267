using System.Data.Common;

namespace Postbox.Storage;

/// <summary>
/// Reads a claimed outbox row into an <see cref="OutboxEnvelope"/>, the same way for every store. The row's columns,
/// from <c>first</c> on, are <c>id, seq, topic, key, type, payload, headers, created_at, attempts, max_attempts</c>;
/// the store converts the two whose storage differs (the id and the creation time) itself.
/// </summary>
internal static class OutboxRows
{
    /// <summary>The envelope of the current row.</summary>
    /// <param name="reader">Positioned on the row.</param>
    /// <param name="first">Ordinal of the <c>id</c> column.</param>
    /// <param name="id">The id, as the store decoded it.</param>
    /// <param name="createdAt">The creation time, as the store decoded it (UTC).</param>
    public static OutboxEnvelope Envelope(DbDataReader reader, int first, Guid id, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new OutboxEnvelope(
            Id: id,
            Sequence: reader.GetInt64(first + 1),
            Topic: reader.GetString(first + 2),
            Key: NullableString(reader, first + 3),
            Type: NullableString(reader, first + 4),
            Payload: reader.GetFieldValue<byte[]>(first + 5),
            Headers: HeaderSerializer.Deserialize(NullableString(reader, first + 6)),
            CreatedAt: createdAt,
            Attempts: reader.GetInt32(first + 8),
            MaxAttempts: reader.IsDBNull(first + 9) ? null : reader.GetInt32(first + 9));
    }

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
