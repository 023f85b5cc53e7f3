namespace AgentConcurrency.Internal;

/// <summary>The one rule for queue timeouts, shared by options validation and per-request validation.</summary>
internal static class TimeoutRules
{
    /// <summary>Zero or more, or <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    public static bool IsValid(TimeSpan timeout) => timeout >= TimeSpan.Zero || timeout == Timeout.InfiniteTimeSpan;

    /// <summary>Whether a request with this timeout waits without end.</summary>
    public static bool IsInfinite(TimeSpan? timeout) => timeout is null || timeout == Timeout.InfiniteTimeSpan;
}
