namespace AgentConcurrency;

/// <summary>Thrown when a request for a slot is refused: a limit had no room and the request could not or would not wait.</summary>
public sealed class ConcurrencyLimitExceededException : Exception
{
    /// <summary>Initializes a new instance with <see cref="ConcurrencyErrorCode.AgentLimitReached"/> and a default message.</summary>
    public ConcurrencyLimitExceededException()
        : this(ConcurrencyErrorCode.AgentLimitReached, agentId: null)
    {
    }

    /// <summary>Initializes a new instance with <see cref="ConcurrencyErrorCode.AgentLimitReached"/> and a message.</summary>
    /// <param name="message">The message.</param>
    public ConcurrencyLimitExceededException(string message)
        : this(ConcurrencyErrorCode.AgentLimitReached, agentId: null, message)
    {
    }

    /// <summary>Initializes a new instance with <see cref="ConcurrencyErrorCode.AgentLimitReached"/>, a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public ConcurrencyLimitExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = ConcurrencyErrorCode.AgentLimitReached;
    }

    /// <summary>Initializes a new instance for a refusal.</summary>
    /// <param name="errorCode">Why the request was refused.</param>
    /// <param name="agentId">The agent the request was for, if any.</param>
    /// <param name="message">The message; <see langword="null"/> for one made from the code and the agent.</param>
    public ConcurrencyLimitExceededException(ConcurrencyErrorCode errorCode, string? agentId, string? message = null)
        : base(message ?? DescribeRefusal(errorCode, agentId))
    {
        ErrorCode = errorCode;
        AgentId = agentId;
    }

    /// <summary>Gets why the request was refused.</summary>
    public ConcurrencyErrorCode ErrorCode { get; }

    /// <summary>Gets the id of the agent the request was for, or <see langword="null"/> where none applies.</summary>
    public string? AgentId { get; }

    private static string DescribeRefusal(ConcurrencyErrorCode errorCode, string? agentId)
    {
        var reason = errorCode switch
        {
            ConcurrencyErrorCode.AgentLimitReached => "the agent's concurrency limit is reached",
            ConcurrencyErrorCode.MaxSessionsExceeded => "the maximum number of parallel sessions is reached",
            ConcurrencyErrorCode.MaxRunsExceeded => "the maximum number of parallel runs is reached",
            ConcurrencyErrorCode.SourceLimitReached => "the source's concurrency limit is reached",
            ConcurrencyErrorCode.QueueFull => "the agent's queue is full",
            ConcurrencyErrorCode.QueueTimeout => "the request waited longer than its queue timeout",
            ConcurrencyErrorCode.SessionReleased => "the request's session was released while it waited",
            _ => "a concurrency limit is reached",
        };
        return agentId is null
            ? $"The request was refused ({errorCode}): {reason}."
            : $"The request for agent '{agentId}' was refused ({errorCode}): {reason}.";
    }
}
