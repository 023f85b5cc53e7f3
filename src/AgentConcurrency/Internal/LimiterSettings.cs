using System.Collections.Frozen;
using System.Globalization;

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
        AdaptiveLimits = options.AdaptiveLimits.ToFrozenDictionary(
            static entry => entry.Key, static entry => AdaptiveLimitSettings.From(entry.Value), StringComparer.Ordinal);
        WhenFull = options.WhenFull;
        QueueLimit = options.QueueLimit;
        QueueTimeout = options.QueueTimeout;
        IdleAgentTimeout = options.IdleAgentTimeout;
    }

    public int? MaxParallelSessions { get; }

    public int? MaxParallelRuns { get; }

    public int? MaxConcurrencyPerSource { get; }

    public FrozenDictionary<string, int> AgentLimits { get; }

    public FrozenDictionary<string, AdaptiveLimitSettings> AdaptiveLimits { get; }

    public QueueFullMode WhenFull { get; }

    public int? QueueLimit { get; }

    public TimeSpan? QueueTimeout { get; }

    public TimeSpan IdleAgentTimeout { get; }

    /// <summary>Validates <paramref name="options"/> and copies them.</summary>
    /// <exception cref="ArgumentException">One or more options are invalid; the message names each.</exception>
    public static LimiterSettings From(AgentConcurrencyOptions options)
    {
        var failures = AgentConcurrencyOptionsValidation.Validate(options);
        if (failures.Count > 0)
        {
            throw new ArgumentException(
                "Invalid AgentConcurrencyOptions: " + string.Join(" ", failures), nameof(options));
        }

        return new LimiterSettings(options);
    }

    /// <summary>The limit for an agent that declared <paramref name="declaredLimit"/>: its override, if the options have one.</summary>
    public int LimitFor(string agentId, int declaredLimit) => AgentLimits.TryGetValue(agentId, out var limit) ? limit : declaredLimit;

    /// <summary>Whether <paramref name="other"/> sets every option the same way, so that applying it would change nothing.</summary>
    public bool HasSameValues(LimiterSettings other) =>
        MaxParallelSessions == other.MaxParallelSessions
        && MaxParallelRuns == other.MaxParallelRuns
        && MaxConcurrencyPerSource == other.MaxConcurrencyPerSource
        && WhenFull == other.WhenFull
        && QueueLimit == other.QueueLimit
        && QueueTimeout == other.QueueTimeout
        && IdleAgentTimeout == other.IdleAgentTimeout
        && AgentLimits.Count == other.AgentLimits.Count
        && AgentLimits.All(entry => other.AgentLimits.TryGetValue(entry.Key, out var limit) && limit == entry.Value)
        && AdaptiveLimits.Count == other.AdaptiveLimits.Count
        && AdaptiveLimits.All(entry => other.AdaptiveLimits.TryGetValue(entry.Key, out var adaptive) && adaptive == entry.Value);

    /// <summary>One line naming every option's value, for the "limits changed" log (formatted only when it is written).</summary>
    public override string ToString()
    {
        var agentLimits = string.Join(", ", AgentLimits.OrderBy(static e => e.Key, StringComparer.Ordinal).Select(static e => $"{e.Key}={e.Value}"));
        var adaptiveLimits = string.Join(", ", AdaptiveLimits.OrderBy(static e => e.Key, StringComparer.Ordinal).Select(static e => $"{e.Key}={e.Value}"));
        return string.Create(
            CultureInfo.InvariantCulture,
            $"MaxParallelSessions={Show(MaxParallelSessions)}, MaxParallelRuns={Show(MaxParallelRuns)}, " +
            $"MaxConcurrencyPerSource={Show(MaxConcurrencyPerSource)}, AgentLimits=[{agentLimits}], AdaptiveLimits=[{adaptiveLimits}], WhenFull={WhenFull}, " +
            $"QueueLimit={Show(QueueLimit)}, QueueTimeout={QueueTimeout?.ToString() ?? "none"}, IdleAgentTimeout={IdleAgentTimeout}");
    }

    private static string Show(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "unlimited";
}
