namespace AgentConcurrency;

/// <summary>What a request does when a limit it needs has no room.</summary>
public enum QueueFullMode
{
    /// <summary>The request waits in the queue until every limit it needs has room, it times out or it is cancelled.</summary>
    Wait = 0,

    /// <summary>The request fails at once with a <see cref="ConcurrencyLimitExceededException"/> naming the first limit that had no room.</summary>
    Reject = 1,
}
