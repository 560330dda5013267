namespace Postbox.Monitoring;

/// <summary>One failed attempt in a message's error history.</summary>
/// <param name="Attempt">The attempt number (restarts at 1 after a replay).</param>
/// <param name="At">When it failed (UTC).</param>
/// <param name="Error">What went wrong (bounded length).</param>
public sealed record AttemptError(int Attempt, DateTimeOffset At, string Error);
