namespace Postbox.Producer;

/// <summary>Refuses one enqueue call that carries the same message id twice.</summary>
/// <remarks>
/// Inside one call a repeated id can only be a mistake (two different messages claiming one identity), so it is
/// refused before anything is sent. An id already stored by an earlier call is a different case — a retried request
/// enqueueing the same message again — and the stores skip it as an idempotent no-op.
/// </remarks>
internal static class MessageIds
{
    // Up to this many messages, comparing pairs is cheaper than building a set.
    private const int PairwiseLimit = 16;

    public static void EnsureDistinct(IReadOnlyList<OutboxMessage> messages)
    {
        if (FindDuplicate(messages) is var (first, second))
        {
            throw new ArgumentException(
                $"Messages #{first} and #{second} have the same Id ({messages[second].Id}); one call may not enqueue an id twice. Nothing was written.",
                nameof(messages));
        }
    }

    private static (int First, int Second)? FindDuplicate(IReadOnlyList<OutboxMessage> messages)
    {
        if (messages.Count <= PairwiseLimit)
        {
            for (var i = 1; i < messages.Count; i++)
            {
                for (var j = 0; j < i; j++)
                {
                    if (messages[i].Id == messages[j].Id)
                    {
                        return (j, i);
                    }
                }
            }

            return null;
        }

        var seen = new Dictionary<Guid, int>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            if (!seen.TryAdd(messages[i].Id, i))
            {
                return (seen[messages[i].Id], i);
            }
        }

        return null;
    }
}
