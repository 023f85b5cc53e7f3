namespace AgentConcurrency.Internal;

/// <summary>
/// One queued request: what it needs, where it stands in the serving order, and its completion. Whoever takes it out of
/// the queue (under the lock) decides its outcome, and only that party completes it, so a cancel that races a grant
/// can never both cancel the caller and keep the permit.
/// </summary>
internal sealed class Waiter : TaskCompletionSource<AgentSlot>
{
    public Waiter(LimiterState owner, AgentGate gate, AcquireOptions options, long enqueuedTimestamp, DateTimeOffset enqueuedAt)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Owner = owner;
        Gate = gate;
        SessionId = options.SessionId;
        RunId = options.RunId;
        Source = options.Source;
        Priority = options.Priority;
        OnQueued = options.OnQueued;
        EnqueuedTimestamp = enqueuedTimestamp;
        EnqueuedAt = enqueuedAt;
    }

    public LimiterState Owner { get; }

    public AgentGate Gate { get; }

    public string? SessionId { get; }

    public string? RunId { get; }

    public string? Source { get; }

    public int Priority { get; }

    public Action<QueuedRequest>? OnQueued { get; }

    public long EnqueuedTimestamp { get; }


    public DateTimeOffset EnqueuedAt { get; }

    /// <summary>The 1-based place in its agent's queue when it was enqueued.</summary>
    public int InitialPosition { get; set; }

    public bool IsQueued { get; set; }

    public Waiter? Previous { get; set; }

    public Waiter? Next { get; set; }

    /// <summary>Links waiters whose outcome was decided under the lock, to be completed after it.</summary>
    public Waiter? NextToComplete { get; set; }

    public AgentSlot GrantedSlot { get; set; }

    /// <summary>Whether the grant joined a run that was already active, rather than starting one.</summary>
    public bool JoinedRun { get; set; }

    public Exception? Failure { get; set; }

    /// <summary>
    /// Gives back a grant its caller will not take (it cancelled, or its OnQueued threw): a run it started goes back; a
    /// run it only joined belongs to whoever started it, and stays.
    /// </summary>
    public void ReturnUnwantedGrant()
    {
        if (!JoinedRun)
        {
            GrantedSlot.Dispose();
        }
    }

    public QueuedRequest ToQueuedRequest(int position) =>
        new(Gate.AgentId, position, SessionId, RunId, Source, Priority, EnqueuedAt);

    /// <summary>Hands the decided outcome to the caller; runs its continuation elsewhere, never on this thread.</summary>
    public void Complete()
    {
        if (Failure is null)
        {
            TrySetResult(GrantedSlot);
        }
        else
        {
            TrySetException(Failure);
        }
    }
}
