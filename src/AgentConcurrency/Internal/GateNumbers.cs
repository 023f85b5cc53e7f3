namespace AgentConcurrency.Internal;

/// <summary>The numbers of a gate that a status snapshot shows.</summary>
internal readonly record struct GateNumbers(int Limit, int Active, int Queued);
