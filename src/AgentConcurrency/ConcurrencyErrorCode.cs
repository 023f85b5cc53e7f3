namespace AgentConcurrency;

/// <summary>Why a request for a slot was refused.</summary>
public enum ConcurrencyErrorCode
{
    /// <summary>The agent already has as many active runs as its limit allows.</summary>
    AgentLimitReached = 0,

    /// <summary>The limiter already has <see cref="AgentConcurrencyOptions.MaxParallelSessions"/> active sessions.</summary>
    MaxSessionsExceeded = 1,

    /// <summary>The limiter already has <see cref="AgentConcurrencyOptions.MaxParallelRuns"/> active runs.</summary>
    MaxRunsExceeded = 2,

    /// <summary>The request's source already holds <see cref="AgentConcurrencyOptions.MaxConcurrencyPerSource"/> slots.</summary>
    SourceLimitReached = 3,

    /// <summary>The agent's queue already holds <see cref="AgentConcurrencyOptions.QueueLimit"/> waiting requests.</summary>
    QueueFull = 4,

    /// <summary>The request waited longer than its queue timeout.</summary>
    QueueTimeout = 5,

    /// <summary>The request's session was released while the request was waiting.</summary>
    SessionReleased = 6,
}
