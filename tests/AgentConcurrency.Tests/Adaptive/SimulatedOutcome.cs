namespace AgentConcurrency.Tests.Adaptive;

/// <summary>One ended run of a simulation, and the agent's limit right after it.</summary>
/// <param name="EndedAt">Simulated seconds since the start.</param>
/// <param name="Seconds">How long it held its slot.</param>
/// <param name="Overloaded">Whether it missed the deadline, and so reported overload.</param>
/// <param name="Limit">The agent's limit after its release.</param>
/// <param name="Capacity">The host's capacity while it ran.</param>
internal readonly record struct SimulatedOutcome(double EndedAt, double Seconds, bool Overloaded, int Limit, int Capacity);
