namespace AgentConcurrency.Internal;

/// <summary>Something that happened to an agent's gate under the lock, published after it.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="AgentId">The gate's agent.</param>
/// <param name="StartedTimestamp">For <see cref="GateEventKind.RunEnded"/>: when the run started, or 0 if it was not timed.</param>
/// <param name="Active">
/// The gate's active runs after the change; for <see cref="GateEventKind.RunStarted"/>, 1 (a start is published only for a
/// run counted in the active-slots metric); for <see cref="GateEventKind.RunEnded"/>, 1 when the run was counted and 0
/// when it was only timed; for <see cref="GateEventKind.RunsDiscarded"/>, how many counted slots were discarded.
/// </param>
/// <param name="Limit">The gate's limit after the change.</param>
/// <param name="PreviousLimit">For <see cref="GateEventKind.LimitAdapted"/>: the limit before the change.</param>
internal readonly record struct GateEvent(GateEventKind Kind, string AgentId, long StartedTimestamp, int Active, int Limit, int PreviousLimit = 0);
