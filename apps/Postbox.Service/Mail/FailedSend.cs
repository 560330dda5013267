namespace Postbox.Service.Mail;

/// <summary>
/// What both mail handlers (queued mail, welcome mail) do with a failed send: save it in the delivery's error history,
/// and tell whether a retry can help.
/// </summary>
internal static class FailedSend
{
    // Saving the error must not be skipped because the attempt's token fired (time-out, shutdown), yet must not hang.
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Saves a send the server may have accepted: held for an operator (resend), never retried.</summary>
    /// <param name="reason">What happened, for the error history.</param>
    /// <param name="record">Saves (error, token) as final and held.</param>
    /// <param name="timeProvider">Clock of the time-out.</param>
    public static async Task HoldAsync(string reason, Func<string, CancellationToken, Task> record, TimeProvider timeProvider)
    {
        using var timeout = new CancellationTokenSource(RecordTimeout, timeProvider);
        await record(reason, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a failed attempt. It is final when the failure is permanent (<see cref="SmtpFailure.IsPermanent"/>) or the
    /// attempt is the last (the runtime dead-letters after attempt <paramref name="maxAttempts"/>).
    /// </summary>
    /// <param name="exception">The send's failure.</param>
    /// <param name="attempt">The runtime's attempt number (1-based).</param>
    /// <param name="maxAttempts">The handler's attempt budget.</param>
    /// <param name="record">Saves (error, final, token).</param>
    /// <param name="timeProvider">Clock of the time-out.</param>
    /// <returns>Whether no retry can help, and the error text saved.</returns>
    public static async Task<(bool Permanent, string Reason)> RecordAsync(Exception exception, int attempt, int maxAttempts,
        Func<string, bool, CancellationToken, Task> record, TimeProvider timeProvider)
    {
        var permanent = SmtpFailure.IsPermanent(exception);
        var reason = SmtpFailure.Describe(exception);
        using var timeout = new CancellationTokenSource(RecordTimeout, timeProvider);
        await record(reason, permanent || attempt >= maxAttempts, timeout.Token).ConfigureAwait(false);
        return (permanent, reason);
    }
}
