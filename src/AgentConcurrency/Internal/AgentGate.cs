namespace AgentConcurrency.Internal;

/// <summary>One agent's gate: its current limit, how many runs it has, how many requests wait for it. Guarded by the state's lock.</summary>
internal sealed class AgentGate(string agentId, int limit)
{
    public string AgentId { get; } = agentId;

    /// <summary>The limit the last caller set; active may exceed it for a while after it shrank.</summary>
    public int Limit { get; set; } = limit;

    public int Active { get; set; }

    public int Queued { get; set; }

    public bool IsIdle => Active == 0 && Queued == 0;

    // Links in the idle list, oldest idle first; IdleSinceTick is the sweep tick at which the gate went idle.
    public AgentGate? IdlePrevious { get; set; }

    public AgentGate? IdleNext { get; set; }

    public bool InIdleList { get; set; }

    public long IdleSinceTick { get; set; }
}
