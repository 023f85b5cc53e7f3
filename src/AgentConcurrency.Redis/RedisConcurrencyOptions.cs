namespace AgentConcurrency.Redis;

/// <summary>Where the Redis-backed limiter keeps its state, and how long a process's slots outlive it.</summary>
/// <remarks>
/// The limits themselves stay in <see cref="AgentConcurrencyOptions"/>. Every instance that shares a
/// <see cref="KeyPrefix"/> shares one set of counts and one queue, and must be configured with the same limits.
/// </remarks>
public sealed class RedisConcurrencyOptions
{
    /// <summary>The shortest lease: renewal runs every third of it, and a round trip must fit well inside that.</summary>
    internal static readonly TimeSpan MinLeaseTtl = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Gets or sets the prefix of every Redis key and channel the limiter uses, so that several applications (or several
    /// independent limits) can share one Redis. Instances with the same prefix share their limits. For Redis Cluster, put
    /// a hash tag in it (<c>{agentconcurrency}:</c>) so that every key lands in one slot, as the scripts need.
    /// </summary>
    /// <value>Not empty. The default is <c>agentconcurrency:</c>.</value>
    public string KeyPrefix { get; set; } = "agentconcurrency:";

    /// <summary>
    /// Gets or sets how long this process's slots and queue places outlive it: it renews its lease every third of this
    /// time, and when a lease expires (the process died, or could not reach Redis for that long) the other instances free
    /// everything it held and admit their waiters. A slot whose lease was lost says so through
    /// <see cref="AgentSlot.LostToken"/>.
    /// </summary>
    /// <value>At least 300 ms. The default is 30 seconds.</value>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how often a process with queued requests asks Redis for their outcome, in case a wake-up message
    /// (pub/sub, which Redis delivers at most once) was lost. Waiters are normally woken by the message at once.
    /// </summary>
    /// <value>More than zero. The default is 1 second.</value>
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws if a value breaks its rule; the message names the option.</summary>
    internal void ThrowIfInvalid()
    {
        if (string.IsNullOrEmpty(KeyPrefix))
        {
            throw new ArgumentException("RedisConcurrencyOptions.KeyPrefix must not be empty.", nameof(KeyPrefix));
        }

        if (LeaseTtl < MinLeaseTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseTtl), LeaseTtl, "RedisConcurrencyOptions.LeaseTtl must be at least 300 ms.");
        }

        if (SafetyPollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(SafetyPollInterval), SafetyPollInterval, "RedisConcurrencyOptions.SafetyPollInterval must be more than zero.");
        }
    }
}
