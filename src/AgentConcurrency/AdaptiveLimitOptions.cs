namespace AgentConcurrency;

/// <summary>
/// Lets one agent's limit find the host's capacity by itself, from how long its runs take and which of them report
/// overload (<see cref="AgentSlot.ReportOverload"/>). Set per agent id in <see cref="AgentConcurrencyOptions.AdaptiveLimits"/>;
/// bind from configuration under <c>AgentConcurrency:AdaptiveLimits:{agentId}</c>, keys mirroring the property names.
/// </summary>
/// <remarks>
/// The limit always stays within [<see cref="MinLimit"/>, <see cref="MaxLimit"/>]. A change applies to the agent's gate
/// as a resize: runs already holding slots finish undisturbed, and waiters are admitted as room appears.
/// </remarks>
public sealed class AdaptiveLimitOptions
{
    /// <summary>Gets or sets the lowest the limit may go.</summary>
    /// <value>At least 1. The default is 1.</value>
    public int MinLimit { get; set; } = 1;

    /// <summary>Gets or sets the highest the limit may go.</summary>
    /// <value>At least <see cref="MinLimit"/>. The default is 64.</value>
    public int MaxLimit { get; set; } = 64;

    /// <summary>
    /// Gets or sets the limit to start from. The agent's <see cref="AgentDef.MaxConcurrency"/> (or its
    /// <see cref="AgentConcurrencyOptions.AgentLimits"/> entry) is otherwise ignored.
    /// </summary>
    /// <value>
    /// Within [<see cref="MinLimit"/>, <see cref="MaxLimit"/>], or <see langword="null"/> for the agent's static limit
    /// (brought within the bounds). The default is <see langword="null"/>. It is used when the agent is first seen; an
    /// options reload that changes the entry starts again from the limit in force, not from here.
    /// </value>
    public int? InitialLimit { get; set; }

    /// <summary>Gets or sets how the limit moves.</summary>
    /// <value>The default is <see cref="AdaptiveAlgorithm.Aimd"/>.</value>
    public AdaptiveAlgorithm Algorithm { get; set; } = AdaptiveAlgorithm.Aimd;

    /// <summary>
    /// Gets or sets what the limit is multiplied by when a run reports overload (both algorithms). The result is rounded
    /// up, and is always at least one less than before, but never below <see cref="MinLimit"/>. Overloads reported by runs that started before the last decrease
    /// are the same episode and do not decrease it again.
    /// </summary>
    /// <value>Greater than 0 and less than 1. The default is 0.75.</value>
    public double BackoffRatio { get; set; } = 0.75;

    /// <summary>
    /// Gets or sets, for <see cref="AdaptiveAlgorithm.Aimd"/>, how many runs must succeed, each started while it took the
    /// agent's last free slot, before the limit grows by one. Runs started while slots stood free say nothing about a
    /// higher limit and are not counted.
    /// </summary>
    /// <value>At least 1. The default is 100.</value>
    public int SuccessesPerIncrease { get; set; } = 100;

    /// <summary>
    /// Gets or sets, for <see cref="AdaptiveAlgorithm.Gradient"/>, how much slower than the uncrowded run time the runs
    /// of a round may be before the limit shrinks: 1.5 shrinks it when runs take more than one and a half times as long.
    /// </summary>
    /// <value>Greater than 1. The default is 1.5.</value>
    public double Tolerance { get; set; } = 1.5;

    /// <summary>
    /// Gets or sets, for <see cref="AdaptiveAlgorithm.Gradient"/>, the fewest runs that make a round. A round is the
    /// runs started under one limit; it ends when as many of them as the limit, and at least this many, have ended, and
    /// then the limit moves by one step at most. Runs that reported overload are not part of a round: they back the limit
    /// off at once. A slow round shrinks the limit only if at least half its runs took the agent's last free slot.
    /// </summary>
    /// <value>At least 1. The default is 10.</value>
    public int MinRoundSize { get; set; } = 10;
}
