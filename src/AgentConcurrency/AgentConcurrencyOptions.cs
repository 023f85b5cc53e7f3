using AgentConcurrency.Internal;

namespace AgentConcurrency;

/// <summary>
/// Limits and queueing behaviour of an <see cref="AgentConcurrencyLimiter"/>. The limiter copies and validates them
/// when it is constructed; changing this object afterwards has no effect on it, but
/// <see cref="AgentConcurrencyLimiter.UpdateOptions(AgentConcurrencyOptions)"/> applies a new set in place. In a host,
/// bind them from the <c>AgentConcurrency</c> configuration section; keys mirror the property names.
/// </summary>
public sealed class AgentConcurrencyOptions
{
    /// <summary>Gets or sets how many sessions may be active at once over all agents.</summary>
    /// <value>At least 1, or <see langword="null"/> for no limit. The default is 100.</value>
    [AtLeast(1)]
    public int? MaxParallelSessions { get; set; } = 100;

    /// <summary>Gets or sets how many runs may be active at once over all agents and sessions.</summary>
    /// <value>At least 1, or <see langword="null"/> for no limit. The default is 50.</value>
    [AtLeast(1)]
    public int? MaxParallelRuns { get; set; } = 50;

    /// <summary>
    /// Gets or sets how many slots one <see cref="AcquireOptions.Source"/> (a user, a chat, a tenant) may hold at once
    /// over all agents, so that one noisy source cannot take every slot.
    /// </summary>
    /// <value>At least 1, or <see langword="null"/> for no limit. The default is <see langword="null"/>.</value>
    [AtLeast(1)]
    public int? MaxConcurrencyPerSource { get; set; }

    /// <summary>
    /// Gets per-agent limits keyed by agent id; an entry overrides <see cref="AgentDef.MaxConcurrency"/> for that id.
    /// </summary>
    /// <value>Each value at least 1. Keys are compared ordinally. The default is empty.</value>
    public IDictionary<string, int> AgentLimits { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>
    /// Gets adaptive limits keyed by agent id: an agent with an entry has its limit moved by what its runs show
    /// (<see cref="AdaptiveLimitOptions"/>), and its <see cref="AgentDef.MaxConcurrency"/> and <see cref="AgentLimits"/>
    /// entry serve only as the limit to start from.
    /// </summary>
    /// <value>
    /// Keys are compared ordinally. The default is empty: every limit is static. What an agent has learned is kept while
    /// its entry is unchanged, even after its gate is dropped as idle; a changed entry starts again from the limit in force,
    /// brought within the new bounds.
    /// </value>
    public IDictionary<string, AdaptiveLimitOptions> AdaptiveLimits { get; } = new Dictionary<string, AdaptiveLimitOptions>(StringComparer.Ordinal);

    /// <summary>Gets or sets what a request does when a limit it needs has no room.</summary>
    /// <value>The default is <see cref="QueueFullMode.Wait"/>.</value>
    public QueueFullMode WhenFull { get; set; } = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets how many requests may wait in one agent's queue; a request that finds the queue full fails with
    /// <see cref="ConcurrencyErrorCode.QueueFull"/>. Zero means a request never waits.
    /// </summary>
    /// <value>At least 0, or <see langword="null"/> for no limit. The default is <see langword="null"/>.</value>
    [AtLeast(0)]
    public int? QueueLimit { get; set; }

    /// <summary>
    /// Gets or sets how long a request may wait in the queue before it fails with
    /// <see cref="ConcurrencyErrorCode.QueueTimeout"/>. <see cref="AcquireOptions.QueueTimeout"/> overrides it per request.
    /// <see cref="TimeSpan.Zero"/> fails at once any request that would have to wait.
    /// </summary>
    /// <value>
    /// Zero or more and at most 49.7 days (the longest timer), or <see cref="Timeout.InfiniteTimeSpan"/> or <see langword="null"/> to wait forever.
    /// The default is <see langword="null"/>.
    /// </value>
    public TimeSpan? QueueTimeout { get; set; }

    /// <summary>
    /// Gets or sets how long an agent's gate is kept with no holders and no waiters before it is dropped, so that
    /// many distinct agent ids do not grow memory without bound. A dropped gate comes back on next use and forgets
    /// the limit its last caller set.
    /// </summary>
    /// <value>
    /// Positive, or <see cref="Timeout.InfiniteTimeSpan"/> to never drop gates. The default is one minute.
    /// A gate is dropped after it has been idle for at least this long and at most a quarter longer.
    /// </value>
    public TimeSpan IdleAgentTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
