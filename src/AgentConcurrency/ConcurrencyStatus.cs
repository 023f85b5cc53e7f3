namespace AgentConcurrency;

/// <summary>A consistent snapshot of a limiter: its global counters and every agent it knows.</summary>
public sealed class ConcurrencyStatus
{
    internal ConcurrencyStatus(
        int activeSessions, int activeRuns, int? maxParallelSessions, int? maxParallelRuns, int queuedRequests, IReadOnlyList<AgentStatus> agents)
    {
        ActiveSessions = activeSessions;
        ActiveRuns = activeRuns;
        MaxParallelSessions = maxParallelSessions;
        MaxParallelRuns = maxParallelRuns;
        QueuedRequests = queuedRequests;
        Agents = agents;
    }

    /// <summary>Gets how many sessions are active (with runs, or pinned by <see cref="IAgentConcurrencyLimiter.TryAcquireSessionSlot"/>).</summary>
    public int ActiveSessions { get; }

    /// <summary>Gets how many runs are active over all agents.</summary>
    public int ActiveRuns { get; }

    /// <summary>Gets the session limit, or <see langword="null"/> where unlimited.</summary>
    public int? MaxParallelSessions { get; }

    /// <summary>Gets the run limit, or <see langword="null"/> where unlimited.</summary>
    public int? MaxParallelRuns { get; }

    /// <summary>Gets how many more sessions may start, or <see langword="null"/> where unlimited.</summary>
    public int? AvailableSessionSlots => MaxParallelSessions - ActiveSessions;

    /// <summary>Gets how many more runs may start, or <see langword="null"/> where unlimited.</summary>
    public int? AvailableRunSlots => MaxParallelRuns - ActiveRuns;

    /// <summary>Gets how many requests wait over all agents.</summary>
    public int QueuedRequests { get; }

    /// <summary>Gets one entry per agent the limiter knows, ordered by agent id (ordinal).</summary>
    public IReadOnlyList<AgentStatus> Agents { get; }
}
