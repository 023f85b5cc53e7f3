namespace AgentConcurrency.Internal;

/// <summary>The one rule for queue timeouts, shared by options validation and per-request validation.</summary>
internal static class TimeoutRules
{
    /// <summary>The longest due time a timer accepts (about 49.7 days), as for <see cref="Task.Delay(TimeSpan)"/>.</summary>
    public static readonly TimeSpan MaxFinite = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Zero or more and at most <see cref="MaxFinite"/>, or <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    public static bool IsValid(TimeSpan timeout) =>
        (timeout >= TimeSpan.Zero && timeout <= MaxFinite) || timeout == Timeout.InfiniteTimeSpan;

    /// <summary>Whether a request with this timeout waits without end.</summary>
    public static bool IsInfinite(TimeSpan? timeout) => timeout is null || timeout == Timeout.InfiniteTimeSpan;
}
