namespace AgentConcurrency.Redis.Internal;

/// <summary>
/// A request of this process waiting in the shared queue. Its outcome (a slot, or a failure) is decided in Redis; the
/// first of the claimed outcome, a cancel, a timeout or disposal to complete it wins, and a slot that arrives too late
/// is given back by whoever received it.
/// </summary>
internal sealed class RedisWaiter(string id, AgentDef agent, AcquireOptions options, long enqueuedTimestamp, long generation)
{
    private readonly TaskCompletionSource<AgentSlot> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _queued;

    public string Id { get; } = id;

    public AgentDef Agent { get; } = agent;

    public AcquireOptions Options { get; } = options;

    public long EnqueuedTimestamp { get; } = enqueuedTimestamp;

    /// <summary>The heartbeat generation when it asked for its queue place: a lapsed lease fails only those asked for before it.</summary>
    public long Generation { get; } = generation;

    public Task<AgentSlot> Outcome => _completion.Task;

    /// <summary>Claims of its outcome under way: a heartbeat that no longer finds its record must not fail it meanwhile.</summary>
    public int ClaimsInFlight;

    /// <summary>Gets or sets whether Redis has given it a queue place; before that, a heartbeat cannot judge it.</summary>
    public bool Queued
    {
        get => Volatile.Read(ref _queued);
        set => Volatile.Write(ref _queued, value);
    }

    public CancellationTokenRegistration Cancellation { get; set; }

    public ITimer? Timer { get; set; }

    public bool TryGrant(AgentSlot slot) => _completion.TrySetResult(slot);

    public bool TryFail(Exception failure) => _completion.TrySetException(failure);

    public bool TryCancel(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}
