namespace AgentConcurrency.Internal;

/// <summary>How a request ended, as the <c>agent_concurrency.result</c> tag names it.</summary>
internal enum RequestResult
{
    /// <summary>It got a slot (a new run, or a join of an active one).</summary>
    Acquired,

    /// <summary>It was refused: a full limit with <see cref="QueueFullMode.Reject"/>, a full queue, its session released, the limiter disposed.</summary>
    Rejected,

    /// <summary>It waited longer than its queue timeout (or would have had to wait, with a zero timeout).</summary>
    TimedOut,

    /// <summary>Its caller gave up: a cancelled token, or its <see cref="AcquireOptions.OnQueued"/> threw.</summary>
    Canceled,
}
