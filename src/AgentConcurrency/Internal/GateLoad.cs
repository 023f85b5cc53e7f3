namespace AgentConcurrency.Internal;

/// <summary>One agent's numbers read under the lock: what the rate-limiter adapters report as their statistics.</summary>
internal readonly record struct GateLoad(int Limit, int Active, int Queued)
{
    /// <summary>Slots free under the agent's own limit; zero while a shrunk limit is still above the active count.</summary>
    public int Available => Math.Max(0, Limit - Active);
}
