namespace AgentConcurrency.Redis;

/// <summary>
/// The Redis-backed limiter could not reach Redis, or lost its lease there: the request was neither granted nor queued,
/// and the caller should treat the limit as unknown (retry later, or fail the work).
/// </summary>
public sealed class ConcurrencyStoreUnavailableException : Exception
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public ConcurrencyStoreUnavailableException()
        : base("The concurrency limiter's Redis store is unavailable.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ConcurrencyStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and the Redis client's exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The Redis client's exception.</param>
    public ConcurrencyStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
