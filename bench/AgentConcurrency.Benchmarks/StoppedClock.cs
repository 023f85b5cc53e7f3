namespace AgentConcurrency.Benchmarks;

/// <summary>
/// A clock that always reads the same timestamp and costs nothing to read: what our figures would be if the contract asked
/// for no wait times. Not a contender (a limiter on it reports every wait as zero and dates every request alike); it
/// separates the clock's share of a measurement from the rest.
/// </summary>
internal sealed class StoppedClock : TimeProvider
{
    /// <inheritdoc/>
    public override long GetTimestamp() => 0;
}
