namespace Postbox.Monitoring;

/// <summary>How many messages of one topic (outbox) or consumer (inbox) are in one state.</summary>
/// <param name="Name">The topic (outbox) or consumer (inbox).</param>
/// <param name="State">The state.</param>
/// <param name="Count">The count; a lower bound when the state's total was capped (see <see cref="StateTotal.AtLeast"/>).</param>
public sealed record StateCount(string Name, MessageState State, long Count);
