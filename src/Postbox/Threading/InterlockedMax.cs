namespace Postbox.Threading;

/// <summary>Lock-free "raise to at least": the relay's pending-retry horizon, the transports' last confirmed ticket.</summary>
internal static class InterlockedMax
{
    /// <summary>Sets <paramref name="target"/> to <paramref name="value"/> unless it already holds as much or more.</summary>
    /// <param name="target">The shared value, read and written only through <see cref="Interlocked"/>.</param>
    /// <param name="value">The candidate.</param>
    public static void Raise(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
