namespace AgentConcurrency;

/// <summary>
/// Describes an agent whose sessions are limited: its id and how many of its runs may be active at once.
/// </summary>
/// <param name="Id">
/// The agent's id. Slots are counted per id (ordinal, case-sensitive), so two definitions with the same id share one gate.
/// </param>
/// <param name="MaxConcurrency">
/// How many runs of this agent may hold a slot at once; at least 1. <see cref="AgentConcurrencyOptions.AgentLimits"/>
/// overrides it for the id when it has an entry, and an <see cref="AgentConcurrencyOptions.AdaptiveLimits"/> entry makes
/// it (or that override) only the limit to start from.
/// </param>
/// <remarks>
/// The record is not validated when it is created; the limiter checks it on every call and throws
/// <see cref="ArgumentException"/> or <see cref="ArgumentOutOfRangeException"/> naming the argument.
/// </remarks>
public sealed record AgentDef(string Id, int MaxConcurrency);
