using Npgsql;

namespace Postbox.PostgreSql;

/// <summary>
/// Whether Postbox's statements may be explicitly prepared on a connection. Npgsql refuses explicit preparation on a
/// data source with <c>Multiplexing</c> (a <see cref="NotSupportedException"/> from every <c>PrepareAsync</c>), whose
/// commands share physical connections; there the statements run unprepared, as plain extended-protocol batches.
/// </summary>
internal static class ExplicitPreparation
{
    // The last connection string asked about: an application has one or two, so parsing it once is enough.
    private static Tuple<string, bool>? _last;

    /// <summary>False when <paramref name="connectionString"/> turns multiplexing on.</summary>
    public static bool Supported(string connectionString)
    {
        var last = Volatile.Read(ref _last);
        // By value: a connection may hand back a new string instance each time, and parsing it is the cost to avoid on
        // the enqueue path; comparing ~100 characters is not.
        if (last is not null && string.Equals(last.Item1, connectionString, StringComparison.Ordinal))
        {
            return last.Item2;
        }

        var supported = !new NpgsqlConnectionStringBuilder(connectionString).Multiplexing;
        Volatile.Write(ref _last, Tuple.Create(connectionString, supported));
        return supported;
    }
}
