namespace AgentConcurrency.Internal;

/// <summary>The kinds of <see cref="GateEvent"/>.</summary>
internal enum GateEventKind
{
    /// <summary>A run of the agent counted in the active-slots metric started: one more slot held.</summary>
    RunStarted,

    /// <summary>A run of the agent ended: one slot fewer.</summary>
    RunEnded,

    /// <summary>The limiter was disposed with runs of the agent still counted as active: they end with it.</summary>
    RunsDiscarded,

    /// <summary>The agent's active runs reached its limit (by a grant, or by the limit shrinking).</summary>
    LimitReached,

    /// <summary>The agent's active runs dropped below its limit again (by a release, or by the limit growing).</summary>
    LimitLeft,

    /// <summary>The agent's adaptive limit moved, from what its ended runs showed.</summary>
    LimitAdapted,
}
