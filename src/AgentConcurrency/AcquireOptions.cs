namespace AgentConcurrency;

/// <summary>How one request for an agent slot is identified, ordered and bounded.</summary>
public sealed class AcquireOptions
{
    /// <summary>Gets the options of a request with no ids, priority 0 and the limiter's queue timeout.</summary>
    internal static AcquireOptions Default { get; } = new();

    /// <summary>
    /// Gets the session the run belongs to. The session counts once against
    /// <see cref="AgentConcurrencyOptions.MaxParallelSessions"/> while any of its runs is active.
    /// </summary>
    /// <value>Not empty or whitespace when set. The default is <see langword="null"/> (no session).</value>
    public string? SessionId { get; init; }

    /// <summary>
    /// Gets the run id. Run ids are global: a request whose run is already active for the same agent joins that run
    /// at once and takes no second permit; releasing any slot of the run releases the run.
    /// </summary>
    /// <value>Not empty or whitespace when set. The default is <see langword="null"/> (a new anonymous run).</value>
    public string? RunId { get; init; }

    /// <summary>Gets who asked for the slot (a user, a chat, a tenant), counted against <see cref="AgentConcurrencyOptions.MaxConcurrencyPerSource"/>.</summary>
    /// <value>Not empty or whitespace when set. The default is <see langword="null"/> (not counted per source).</value>
    public string? Source { get; init; }

    /// <summary>Gets the request's priority: waiting requests with a higher priority are served first, then by arrival.</summary>
    /// <value>The default is 0.</value>
    public int Priority { get; init; }

    /// <summary>Gets how long this request may wait, overriding <see cref="AgentConcurrencyOptions.QueueTimeout"/>.</summary>
    /// <value>
    /// Zero or more and at most 49.7 days (the longest timer), or <see cref="Timeout.InfiniteTimeSpan"/> to wait forever; <see langword="null"/> uses the limiter's.
    /// The default is <see langword="null"/>.
    /// </value>
    public TimeSpan? QueueTimeout { get; init; }

    /// <summary>
    /// Gets a callback invoked once, outside any lock, when the request has to wait, with its place in its agent's queue.
    /// If it throws, the request leaves the queue and the exception reaches the caller.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Action<QueuedRequest>? OnQueued { get; init; }
}
