namespace AgentConcurrency;

/// <summary>A snapshot of one agent's gate.</summary>
public sealed class AgentStatus
{
    internal AgentStatus(string agentId, int limit, int active, IReadOnlyList<QueuedRequest> queuedRequests)
    {
        AgentId = agentId;
        Limit = limit;
        Active = active;
        QueuedRequests = queuedRequests;
    }

    /// <summary>Gets the agent's id.</summary>
    public string AgentId { get; }

    /// <summary>Gets how many runs of the agent may be active at once right now.</summary>
    public int Limit { get; }

    /// <summary>Gets how many runs of the agent are active. It can exceed <see cref="Limit"/> for a while after the limit was lowered.</summary>
    public int Active { get; }

    /// <summary>Gets how many more runs the agent's own limit would admit (other limits may still hold them back).</summary>
    public int Available => Math.Max(0, Limit - Active);

    /// <summary>Gets how many requests wait for the agent.</summary>
    public int Queued => QueuedRequests.Count;

    /// <summary>Gets the requests that wait for the agent, in the order they will be served.</summary>
    public IReadOnlyList<QueuedRequest> QueuedRequests { get; }
}
