namespace AgentApi;

/// <summary>What the API tells about one run.</summary>
/// <param name="RunId">Its id.</param>
/// <param name="AgentId">Its agent.</param>
/// <param name="Status"><c>queued</c>, <c>running</c>, <c>completed</c>, <c>canceled</c>, <c>timed_out</c> or <c>rejected</c>.</param>
/// <param name="Position">While queued: its 1-based place in its agent's queue.</param>
/// <param name="WaitedMs">Once it ran: how long it waited for its slot.</param>
/// <param name="Error">Why it failed, when it did: the limiter's error code.</param>
public sealed record RunView(string RunId, string AgentId, string Status, int? Position, double? WaitedMs, string? Error);
