namespace AgentConcurrency;

/// <summary>How an adaptive limit (<see cref="AdaptiveLimitOptions"/>) moves an agent's limit.</summary>
public enum AdaptiveAlgorithm
{
    /// <summary>
    /// Additive increase, multiplicative decrease: one more slot after <see cref="AdaptiveLimitOptions.SuccessesPerIncrease"/>
    /// runs that succeeded while every slot was in use, and the limit times <see cref="AdaptiveLimitOptions.BackoffRatio"/>
    /// when a run reports overload. It hears only overloads, so it settles just below the point where runs start to fail.
    /// </summary>
    Aimd = 0,

    /// <summary>
    /// Compares how long the runs started under the current limit took with how long runs take when the host is not
    /// crowded: one more slot while they are about as fast, fewer when they slow down by more than
    /// <see cref="AdaptiveLimitOptions.Tolerance"/>, and the limit times <see cref="AdaptiveLimitOptions.BackoffRatio"/> on
    /// overload. It hears slowing down before failure, so it settles nearer the point where more runs stop adding throughput.
    /// </summary>
    Gradient = 1,
}
