namespace Postbox.Consumers;

/// <summary>One failed attempt in a message's error history.</summary>
/// <param name="Attempt">The attempt number (restarts at 1 after a replay).</param>
/// <param name="At">When it failed.</param>
/// <param name="Error">What went wrong (bounded length).</param>
public sealed record InboxError(int Attempt, DateTimeOffset At, string Error);
