namespace AgentConcurrency.Redis.Internal;

/// <summary>
/// A request of this process waiting in the shared queue. Its outcome (a slot, or a failure) is decided in Redis; the
/// first of the claimed outcome, a cancel, a timeout or disposal to complete it wins, and a slot that arrives too late
/// is given back by whoever received it.
/// </summary>
internal sealed class RedisWaiter(string id, AgentDef agent, AcquireOptions options, long enqueuedTimestamp)
{
    private readonly TaskCompletionSource<AgentSlot> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _queued;
    private int _leaving;

    public string Id { get; } = id;

    public AgentDef Agent { get; } = agent;

    public AcquireOptions Options { get; } = options;

    public long EnqueuedTimestamp { get; } = enqueuedTimestamp;

    /// <summary>
    /// Gets the heartbeat generation when its queue place was confirmed: a heartbeat sent after that must find the place
    /// in Redis, or the place was lost with a lapsed lease.
    /// </summary>
    public long QueuedGeneration { get; private set; } = long.MaxValue;

    /// <summary>Gets whether its grant joined a run someone else started: giving it back must not end that run.</summary>
    public bool Joined { get; private set; }

    /// <summary>Gets whether it is leaving the queue (cancel, timeout, disposal): its outcome comes from that, not a heartbeat.</summary>
    public bool Leaving => Volatile.Read(ref _leaving) != 0;

    public Task<AgentSlot> Outcome => _completion.Task;

    /// <summary>Claims of its outcome under way: a heartbeat that no longer finds its record must not fail it meanwhile.</summary>
    public int ClaimsInFlight;

    /// <summary>Gets whether Redis has given it a queue place; before that, a heartbeat cannot judge it.</summary>
    public bool Queued => Volatile.Read(ref _queued);

    /// <summary>Notes that Redis confirmed its queue place, in heartbeat generation <paramref name="generation"/>.</summary>
    public void MarkQueued(long generation)
    {
        QueuedGeneration = generation;
        Volatile.Write(ref _queued, true);
    }

    /// <summary>Starts leaving the queue; false if it was already leaving.</summary>
    public bool StartLeaving() => Interlocked.Exchange(ref _leaving, 1) == 0;

    /// <summary>Notes a grant for it, before it is offered: whether giving it back may end the run.</summary>
    public void MarkJoined(bool joined) => Joined = joined;

    public CancellationTokenRegistration Cancellation { get; set; }

    public ITimer? Timer { get; set; }

    public bool TryGrant(AgentSlot slot) => _completion.TrySetResult(slot);

    public bool TryFail(Exception failure) => _completion.TrySetException(failure);

    public bool TryCancel(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}
