namespace AgentConcurrency.Internal;

/// <summary>
/// One queued request: what it needs, where it stands in the serving order, and its completion. Whoever takes it out of
/// the queue (under the lock) decides its outcome, and only that party completes it, so a cancel that races a grant
/// can never both cancel the caller and keep the permit.
/// </summary>
internal sealed class Waiter : TaskCompletionSource<AgentSlot>
{
    // Who finishes the wait: the caller while it sets up the hooks (SettingUp), its decider once it is Ready; a decision
    // made during set-up (Decided) is finished by the caller. A caller that gives up during set-up (Abandoned) leaves an
    // outcome decided but not yet handed over to its decider to give back.
    private const int SettingUp = 0;
    private const int Ready = 1;
    private const int Decided = 2;
    private const int Abandoned = 3;

    private int _state;

    public Waiter(LimiterState owner, AgentGate gate, AcquireOptions options, long enqueuedTimestamp)
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
    }

    public LimiterState Owner { get; }

    public AgentGate Gate { get; }

    public string? SessionId { get; }

    public string? RunId { get; }

    public string? Source { get; }

    public int Priority { get; }

    public Action<QueuedRequest>? OnQueued { get; }

    public long EnqueuedTimestamp { get; }

    /// <summary>Its arrival number in the limiter: with <see cref="Priority"/>, its place in the serving order. Set once, at enqueue.</summary>
    public long Sequence { get; set; }

    /// <summary>Its place in the state's <see cref="WaiterSlots"/> while queued.</summary>
    public int SlotIndex { get; set; }

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

    /// <summary>Whether it left the queue because its caller's token was cancelled.</summary>
    public bool Canceled { get; set; }

    public CancellationToken CancellationToken { get; set; }

    /// <summary>The telemetry that follows this wait from enqueue to outcome.</summary>
    public QueuedWait Wait { get; set; }

    public CancellationTokenRegistration Registration { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>
    /// Gives back a grant its caller will not take (it cancelled, or its OnQueued threw): a run it started goes back; a
    /// run it only joined belongs to whoever started it, and stays.
    /// </summary>
    public void ReturnUnwantedGrant()
    {
        if (!JoinedRun)
        {
            GrantedSlot.ReturnUnused();
        }
    }

    /// <summary>Describes the request for a status reader; <paramref name="clock"/> dates it from its enqueue timestamp.</summary>
    public QueuedRequest ToQueuedRequest(int position, in ClockReading clock) =>
        new(Gate.AgentId, position, SessionId, RunId, Source, Priority, clock.DateOf(EnqueuedTimestamp));

    /// <summary>
    /// Hands the outcome decided under the lock to the caller; called once, after the lock, by whoever decided it. If
    /// the caller is still setting up the wait, it finishes the wait itself once set up.
    /// </summary>
    public void Complete()
    {
        switch (Interlocked.CompareExchange(ref _state, Decided, SettingUp))
        {
            case Ready:
                Owner.FinishWait(this);
                break;
            case Abandoned:
                ReturnUnwantedOutcome();
                break;
        }
    }

    /// <summary>Marks the wait's set-up done; false if the outcome was decided meanwhile, and the caller must finish it.</summary>
    public bool TryMarkReady() => Interlocked.CompareExchange(ref _state, Ready, SettingUp) == SettingUp;

    /// <summary>Marks that the caller gave up during set-up; false if the outcome was already handed over, and the caller must give it back.</summary>
    public bool TryMarkAbandoned() => Interlocked.CompareExchange(ref _state, Abandoned, SettingUp) == SettingUp;

    /// <summary>Gives back what was decided for a caller that will not take it: a grant goes back; a failure needs nothing.</summary>
    public void ReturnUnwantedOutcome()
    {
        if (Failure is null && !Canceled)
        {
            ReturnUnwantedGrant();
        }
    }
}
