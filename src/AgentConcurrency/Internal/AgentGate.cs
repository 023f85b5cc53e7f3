namespace AgentConcurrency.Internal;

/// <summary>One agent's gate: its current limit, how many runs it has, how many requests wait for it. Guarded by the state's lock.</summary>
internal sealed class AgentGate(string agentId, int declaredLimit)
{
    public string AgentId { get; } = agentId;

    /// <summary>The <see cref="AgentDef.MaxConcurrency"/> the last caller declared; the limit unless the options override it.</summary>
    public int DeclaredLimit { get; set; } = declaredLimit;

    /// <summary>The limit in force; active may exceed it for a while after it shrank.</summary>
    public int Limit { get; set; } = declaredLimit;

    /// <summary>The agent's adaptive limit, which sets <see cref="Limit"/>; null while the limit is static.</summary>
    public AdaptiveLimit? Adaptive { get; set; }

    public int Active { get; set; }

    public int Queued { get; set; }

    /// <summary>Whether <see cref="Active"/> had reached <see cref="Limit"/> when last checked; its flips are the logged transitions.</summary>
    public bool AtLimit { get; set; }

    /// <summary>Runs of this gate whose start was counted in the active-slots metric, so their ends must be too.</summary>
    public int CountedActive { get; set; }

    /// <summary>Links gates whose active count or limit changed in the current lock section, to settle their transitions once.</summary>
    public AgentGate? NextTouched { get; set; }

    public bool Touched { get; set; }

    /// <summary>
    /// Retired run records without ids, kept for this gate's next runs (linked by <see cref="RunRecord.NextFree"/>): a
    /// record is only used again for the same agent, so that its stale slots go on naming it. Dropped with the gate.
    /// </summary>
    public RunRecord? FreeRuns { get; set; }

    /// <summary>How many records <see cref="FreeRuns"/> holds: one always, more up to its limit (the most runs it needs at once) while the state's cap across gates allows.</summary>
    public int FreeRunCount { get; set; }

    /// <summary>A gate the host registered up front: always listed, never dropped while idle.</summary>
    public bool Pinned { get; set; }

    public bool IsIdle => Active == 0 && Queued == 0 && !Pinned;

    /// <summary>Its waiters that a scan must look at: all of them while it has room, none while it is full.</summary>
    public int OpenWaiters => Active < Limit ? Queued : 0;

    /// <summary>What <see cref="OpenWaiters"/> was when the state last added it to its count of waiters at open gates.</summary>
    public int CountedOpenWaiters { get; set; }

    // Links in the idle list, oldest idle first; IdleSinceTick is the sweep tick at which the gate went idle.
    public AgentGate? IdlePrevious { get; set; }

    public AgentGate? IdleNext { get; set; }

    public bool InIdleList { get; set; }

    /// <summary>Whether the gate is idle and listed for this idle spell; false once it turns busy, though it may still be listed.</summary>
    public bool IdleListed { get; set; }

    public long IdleSinceTick { get; set; }

    /// <summary>
    /// Its place in the state's <see cref="GateList"/>, -1 while not listed (before it is, and once dropped). Changes when
    /// another gate is dropped, so it is only ever read under the lock.
    /// </summary>
    public int ListIndex { get; set; } = -1;
}
