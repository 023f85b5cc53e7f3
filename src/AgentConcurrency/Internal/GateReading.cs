namespace AgentConcurrency.Internal;

/// <summary>A gate's numbers as read under the lock, for a status snapshot built after it.</summary>
internal readonly record struct GateReading(AgentGate Gate, int Limit, int Active, int Queued);
