using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace AgentConcurrency.Internal;

/// <summary>
/// One queued request: what it needs, where it stands in the serving order, and its completion. Whoever takes it out of
/// the queue (under the lock) decides its outcome, and only that party completes it, so a cancel that races a grant
/// can never both cancel the caller and keep the permit.
/// </summary>
/// <remarks>
/// The caller awaits the waiter itself (a <see cref="ValueTask{TResult}"/> over it), and a waiter whose caller has taken
/// its outcome is used again by the next request its thread queues, so a hand-off allocates nothing. It is used again
/// only when nothing else can still reach it: no cancellation or timer callback that may yet run, and no status snapshot
/// that listed it (a snapshot describes its waiters when it is read, which may be much later).
/// </remarks>
internal sealed class Waiter : IValueTaskSource<AgentSlot>
{
    // Who finishes the wait: the caller while it sets up the hooks (SettingUp), its decider once it is Ready; a decision
    // made during set-up (Decided) is finished by the caller. A caller that gives up during set-up (Abandoned) leaves an
    // outcome decided but not yet handed over to its decider to give back.
    private const int SettingUp = 0;
    private const int Ready = 1;
    private const int Decided = 2;
    private const int Abandoned = 3;

    // How often a blocked caller looks at the outcome again if no wake-up came.
    private static readonly TimeSpan BlockedCallerRecheck = TimeSpan.FromMilliseconds(50);

    // No version of the completion waits to be taken: outside the range of a version, which is a short.
    private const int NoneUnclaimed = int.MinValue;

    // Not dated yet: a timestamp no clock gives.
    private const long Unstamped = long.MinValue;

    // One spare per thread: a caller usually queues its next request on the thread its last one resumed on, and a
    // thread's spare needs no synchronisation to take or give back. It is bounded by the number of threads.
    [ThreadStatic]
    private static Waiter? t_spare;

    private ManualResetValueTaskSourceCore<AgentSlot> _completion;

    // Set by a caller that blocks on the outcome before it is decided; woken by the completing thread itself.
    private ManualResetEventSlim? _blockedCaller;
    private int _state;
    private int _unclaimedVersion = NoneUnclaimed;
    private long _enqueuedTimestamp = Unstamped;

    private Waiter()
    {
        // Callers never resume inside FinishWait, which may run in a releaser's Dispose or a cancellation callback.
        _completion.RunContinuationsAsynchronously = true;
    }

    public LimiterState Owner { get; private set; } = null!;

    public AgentGate Gate { get; private set; } = null!;

    public string? SessionId { get; private set; }

    public string? RunId { get; private set; }

    public string? Source { get; private set; }

    public int Priority { get; private set; }

    public Action<QueuedRequest>? OnQueued { get; private set; }

    /// <summary>When it was queued, by the owner's clock; read only once its caller has stamped it (see <see cref="Stamp"/>).</summary>
    public long EnqueuedTimestamp => _enqueuedTimestamp;

    /// <summary>How long it may wait: its caller's timeout, or the one in force when it asked; null or infinite for no limit.</summary>
    public TimeSpan? QueueTimeout { get; private set; }

    public CancellationToken CancellationToken { get; private set; }

    /// <summary>How many status snapshots the owner had taken when this wait was queued: a later one may have listed it.</summary>
    public int StatusSnapshotsAtEnqueue { get; private set; }

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

    public Exception? Failure { get; set; }

    /// <summary>Whether it left the queue because its caller's token was cancelled.</summary>
    public bool Canceled { get; set; }

    /// <summary>The telemetry that follows this wait from enqueue to outcome.</summary>
    public QueuedWait Wait { get; set; }

    public CancellationTokenRegistration Registration { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>Whether it may be used again once its caller has taken the outcome; set by <see cref="SetResult"/> and the others.</summary>
    private bool Reusable { get; set; }

    /// <summary>A waiter for a new wait: this thread's spare, or a new one.</summary>
    public static Waiter Start(
        LimiterState owner, AgentGate gate, AcquireOptions options, TimeSpan? queueTimeout, int statusSnapshots, CancellationToken cancellationToken)
    {
        var waiter = t_spare ?? new Waiter();
        t_spare = null;
        Debug.Assert(waiter._enqueuedTimestamp == Unstamped, "A waiter is dated once per wait.");
        waiter.Owner = owner;
        waiter.Gate = gate;
        waiter.SessionId = options.SessionId;
        waiter.RunId = options.RunId;
        waiter.Source = options.Source;
        waiter.Priority = options.Priority;
        waiter.OnQueued = options.OnQueued;
        waiter.QueueTimeout = queueTimeout;
        waiter.StatusSnapshotsAtEnqueue = statusSnapshots;
        waiter.CancellationToken = cancellationToken;
        waiter._unclaimedVersion = waiter._completion.Version;
        return waiter;
    }

    /// <summary>The caller's view of the wait, valid until its outcome is taken.</summary>
    public ValueTask<AgentSlot> AsValueTask() => new(this, _completion.Version);

    /// <summary>
    /// Gives back a grant its caller will not take (it cancelled, or its OnQueued threw). The run ends only if no other
    /// request was granted it too (see <see cref="RunRecord.Holders"/>): a run it started or joined stays with the others.
    /// </summary>
    public void ReturnUnwantedGrant() => GrantedSlot.ReturnUnused();

    /// <summary>
    /// Dates the wait: called by its caller once out of the lock it was queued under, so that no wait reads the clock under
    /// the lock. A status snapshot that describes the request first has dated it already, by the clock it read under the
    /// lock while the request was queued, and that date stands.
    /// </summary>
    /// <returns>The date that stands: <paramref name="timestamp"/>, or the one set first.</returns>
    public long Stamp(long timestamp)
    {
        var found = Interlocked.CompareExchange(ref _enqueuedTimestamp, timestamp, Unstamped);
        return found == Unstamped ? timestamp : found;
    }

    /// <summary>
    /// Describes the request for a status reader; <paramref name="clock"/> dates it from its enqueue timestamp. A request
    /// its caller has not dated yet is dated by the snapshot's clock, read under the lock while the request was queued,
    /// and keeps that date: every snapshot and its caller's wait time agree on it.
    /// </summary>
    public QueuedRequest ToQueuedRequest(int position, in ClockReading clock)
    {
        var enqueued = Volatile.Read(ref _enqueuedTimestamp);
        if (enqueued == Unstamped)
        {
            enqueued = Stamp(clock.Timestamp);
        }

        return new(Gate.AgentId, position, SessionId, RunId, Source, Priority, clock.DateOf(enqueued));
    }

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

    // The three below complete the caller's wait: the last thing done with the waiter, which its caller may take back
    // for its next request at once. reusable: nothing else can still reach the waiter.

    public void SetResult(AgentSlot slot, bool reusable)
    {
        Reusable = reusable;
        _completion.SetResult(slot);
        WakeBlockedCaller();
    }

    public void SetException(Exception failure, bool reusable)
    {
        Reusable = reusable;
        _completion.SetException(failure);
        WakeBlockedCaller();
    }

    // A TaskCanceledException, as a cancelled task throws, carrying the caller's token.
    public void SetCanceled(bool reusable) => SetException(new TaskCanceledException(null, null, CancellationToken), reusable);

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    /// <summary>Hands the outcome to the caller, once; a caller that blocks on the wait rather than awaiting it is served too.</summary>
    public AgentSlot GetResult(short token)
    {
        // A stale token throws here, before anything changes.
        if (_completion.GetStatus(token) == ValueTaskSourceStatus.Pending)
        {
            WaitForOutcome(token);
        }

        // Only the first taker of this version may put the waiter back: a second taker of the same result (a misuse of
        // the ValueTask) must not give one waiter to two waits.
        var claimed = Interlocked.CompareExchange(ref _unclaimedVersion, NoneUnclaimed, token) == token;
        try
        {
            return _completion.GetResult(token);
        }
        finally
        {
            if (claimed && Reusable)
            {
                Recycle();
            }
        }
    }

    /// <summary>
    /// Blocks a caller that asked for the outcome before it was decided (.Result, GetAwaiter().GetResult()), as a task
    /// would. The completing thread wakes it directly: a continuation would wait for a free thread-pool thread, which
    /// callers blocking on pool threads may have taken, all of them.
    /// </summary>
    private void WaitForOutcome(short token)
    {
        // Not disposed: the completing thread may set it just after this caller saw the outcome and left.
        var decided = new ManualResetEventSlim();
        Interlocked.Exchange(ref _blockedCaller, decided);

        // A wake-up can be stale (the completing thread of an earlier wait of this waiter), and the timed wait bounds a
        // wake-up lost between the completion and the read of _blockedCaller: the outcome is looked at again either way.
        while (_completion.GetStatus(token) == ValueTaskSourceStatus.Pending)
        {
            decided.Wait(BlockedCallerRecheck);
            decided.Reset();
        }
    }

    /// <summary>Wakes a caller blocked on the outcome, once the outcome is there for it to see.</summary>
    private void WakeBlockedCaller() => Volatile.Read(ref _blockedCaller)?.Set();

    /// <summary>Forgets the finished wait (so a spare keeps nothing alive) and makes the waiter this thread's spare.</summary>
    private void Recycle()
    {
        Owner = null!;
        Gate = null!;
        SessionId = null;
        RunId = null;
        Source = null;
        OnQueued = null;
        CancellationToken = default;
        GrantedSlot = default;
        Failure = null;
        Canceled = false;
        Wait = default;
        Registration = default;
        Timer = null;
        QueueTimeout = null;
        _enqueuedTimestamp = Unstamped;
        _blockedCaller = null;
        _state = SettingUp;
        _completion.Reset();
        t_spare ??= this;
    }
}
