using System.Collections.Frozen;

namespace AgentConcurrency.Internal;

/// <summary>An immutable, validated copy of <see cref="AgentConcurrencyOptions"/>: the hot path never reads the mutable options.</summary>
internal sealed class LimiterSettings
{
    private LimiterSettings(AgentConcurrencyOptions options)
    {
        MaxParallelSessions = options.MaxParallelSessions;
        MaxParallelRuns = options.MaxParallelRuns;
        MaxConcurrencyPerSource = options.MaxConcurrencyPerSource;
        AgentLimits = options.AgentLimits.ToFrozenDictionary(StringComparer.Ordinal);
        WhenFull = options.WhenFull;
        QueueLimit = options.QueueLimit;
        QueueTimeout = options.QueueTimeout;
        IdleAgentTimeout = options.IdleAgentTimeout;
    }

    public int? MaxParallelSessions { get; }

    public int? MaxParallelRuns { get; }

    public int? MaxConcurrencyPerSource { get; }

    public FrozenDictionary<string, int> AgentLimits { get; }

    public QueueFullMode WhenFull { get; }

    public int? QueueLimit { get; }

    public TimeSpan? QueueTimeout { get; }

    public TimeSpan IdleAgentTimeout { get; }

    /// <summary>Validates <paramref name="options"/> and copies them.</summary>
    /// <exception cref="ArgumentException">One or more options are invalid; the message names each.</exception>
    public static LimiterSettings From(AgentConcurrencyOptions options)
    {
        var failures = AgentConcurrencyOptionsValidator.Validate(options);
        if (failures.Count > 0)
        {
            throw new ArgumentException(
                "Invalid AgentConcurrencyOptions: " + string.Join(" ", failures), nameof(options));
        }

        return new LimiterSettings(options);
    }
}
