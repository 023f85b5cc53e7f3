namespace AgentConcurrency;

/// <summary>A snapshot of one waiting request.</summary>
public sealed class QueuedRequest
{
    internal QueuedRequest(string agentId, int position, string? sessionId, string? runId, string? source, int priority, DateTimeOffset enqueuedAt)
    {
        AgentId = agentId;
        Position = position;
        SessionId = sessionId;
        RunId = runId;
        Source = source;
        Priority = priority;
        EnqueuedAt = enqueuedAt;
    }

    /// <summary>Gets the id of the agent the request waits for.</summary>
    public string AgentId { get; }

    /// <summary>Gets the request's 1-based place in its agent's queue, in the order the queue will be served.</summary>
    public int Position { get; }

    /// <summary>Gets the request's session id, if it has one.</summary>
    public string? SessionId { get; }

    /// <summary>Gets the request's run id, if it has one.</summary>
    public string? RunId { get; }

    /// <summary>Gets the request's source, if it has one.</summary>
    public string? Source { get; }

    /// <summary>Gets the request's priority.</summary>
    public int Priority { get; }

    /// <summary>Gets when the request started to wait, as told by the limiter's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset EnqueuedAt { get; }
}
