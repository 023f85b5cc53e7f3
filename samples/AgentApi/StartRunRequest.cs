namespace AgentApi;

/// <summary>The optional body of <c>POST /agents/{id}/runs</c>.</summary>
/// <param name="Source">Who dispatches (a user, a chat); limits per source apply to it.</param>
/// <param name="SessionId">The session the run belongs to.</param>
/// <param name="Priority">Higher is served first.</param>
/// <param name="DurationMs">How long the simulated agent run takes once it has its slot.</param>
/// <param name="QueueTimeoutMs">How long it may wait in the queue; the limiter's default when absent.</param>
public sealed record StartRunRequest(
    string? Source = null, string? SessionId = null, int Priority = 0, int DurationMs = 5_000, int? QueueTimeoutMs = null);
