namespace AgentConcurrency.Tests.Adaptive;

/// <summary>A stretch of a simulation: the host's capacity, and how many runs end before the next stretch.</summary>
internal readonly record struct SimulationPhase(int Capacity, int Runs);
