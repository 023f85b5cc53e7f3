using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AgentConcurrency.Internal;

/// <summary>
/// Every counter of a limiter (gates, runs, sessions, sources) and its one queue, under one short lock. It never validates
/// arguments and never calls user code while holding the lock.
/// </summary>
/// <remarks>
/// After every change made under the lock, every waiter whose needs all fit has been granted (the scan). That invariant
/// is what lets a newcomer be granted at once exactly when its own needs fit: no waiter ahead of it could use the
/// capacity, or the scan would already have granted it, so the fast path never barges.
/// </remarks>
internal sealed class LimiterState : IDisposable
{
    // The sweep runs every IdleAgentTimeout / 4 and drops a gate at the fifth tick after it went idle: after more than
    // IdleAgentTimeout and at most a quarter more, with no timestamp taken on the hot path.
    private const int SweepTicksPerIdleTimeout = 4;

    // Every gate keeps one retired run record (most agents run one at a time); records beyond each gate's first are
    // kept up to this many across all gates, enough for the runs of a busy host. A burst beyond it allocates and leaves
    // them to the GC.
    private const int MaxPooledRuns = 256;

    private readonly Lock _sync = new();

    // Serialises option updates, which touch the idle sweep's timer outside the lock.
    private readonly Lock _updateSync = new();
    private readonly TimeProvider _timeProvider;
    private readonly LimiterTelemetry _telemetry;
    private readonly Dictionary<string, AgentGate> _gates = new(StringComparer.Ordinal);

    // The same gates again, in one array with their numbers, for status readers (see GateList).
    private readonly GateList _gateList = new();
    private readonly Dictionary<string, RunRecord> _runsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SessionRecord> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _sourceCounts = new(StringComparer.Ordinal);

    // What each adaptive agent learned, kept apart from its gate so that dropping an idle gate forgets nothing.
    private readonly Dictionary<string, AdaptiveLimit> _adaptiveLimits = new(StringComparer.Ordinal);
    private readonly WaiterQueue _waiters = new();
    private readonly WaiterSlots _waiterSlots = new();
    private readonly IdleGateList _idleGates = new();
    private LimiterSettings _settings;
    private AgentGate? _touchedGates;
    private ITimer? _idleSweepTimer;

    // Records in the gates' free lists beyond each gate's first, together.
    private int _pooledRuns;
    private int _activeRuns;
    private int _waitersWithRunId;

    // Waiters whose gate has room: only they (and waiters with a run id, which may join a run) can be granted by a scan.
    private int _waitersAtOpenGates;
    private long _sweepTick;
    private long _enqueued;

    // Status snapshots taken, written under the lock: a waiter queued before the latest one may be listed in it.
    private int _statusSnapshots;
    private long _sweepTicksToDrop;
    private bool _disposed;

    // Set while the host's clock is read under the lock (see CalledFromOwnClockRead).
    private bool _readingClockUnderLock;

    /// <param name="settings">The limits to start with.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="telemetry">Where logs, metrics and traces go.</param>
    /// <param name="knownAgents">Agents the host registered: listed from the start and never dropped while idle; a later id wins.</param>
    public LimiterState(LimiterSettings settings, TimeProvider timeProvider, LimiterTelemetry telemetry, IEnumerable<AgentDef> knownAgents)
    {
        _settings = settings;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        foreach (var agent in knownAgents)
        {
            // A later id wins here too: its limit is the one to start from.
            _adaptiveLimits.Remove(agent.Id);
            var gate = NewGateUnsynchronized(agent.Id, agent.MaxConcurrency);
            gate.Pinned = true;
            if (_gates.Remove(agent.Id, out var replaced))
            {
                _gateList.Remove(replaced);
            }

            _gates.Add(agent.Id, gate);
            _gateList.Add(gate);
        }

        ScheduleIdleSweep(settings.IdleAgentTimeout);
        telemetry.ObserveLimits(this);
    }

    /// <summary>The clock everything here is timed by; the rate-limiter adapters time idleness by it too.</summary>
    public TimeProvider TimeProvider => _timeProvider;

    /// <summary>How long an agent stays known after its last use, as the limits in force now say.</summary>
    public TimeSpan IdleAgentTimeout => Volatile.Read(ref _settings).IdleAgentTimeout;

    public ValueTask<AgentSlot> AcquireAsync(string agentId, int declaredLimit, AcquireOptions options, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            // Disposal wins over cancellation: after Dispose every acquire throws, as documented.
            ThrowIfDisposed();
            _telemetry.CanceledAtOnce(agentId);
            return ValueTask.FromCanceled<AgentSlot>(cancellationToken);
        }

        // One pass under the lock: grant, refuse or queue. The plain request, the common case, is decided on the short path
        // TryAcquire takes; everything a request that does not fit needs is in methods of its own, so the uncontended call
        // carries none of it. A queued request is dated once out of the lock (see Waiter.Stamp): no wait reads the clock under it.
        if (TryGrantOrEnqueue(agentId, declaredLimit, options, cancellationToken, out var slot, out var waiter, out var blocker))
        {
            _telemetry.Acquired(agentId);
            return new ValueTask<AgentSlot>(slot);
        }

        if (waiter is not null)
        {
            return WaitForGrant(waiter, cancellationToken);
        }

        _telemetry.RefusedAtOnce(agentId, blocker);
        return ValueTask.FromException<AgentSlot>(new ConcurrencyLimitExceededException(blocker, agentId));
    }

    /// <summary>
    /// <see cref="TryGrantAtOnce"/> for <see cref="AcquireAsync"/>: a request that does not fit is queued under the same
    /// lock (<paramref name="waiter"/>), or refused (no waiter, and <paramref name="blocker"/> says why).
    /// </summary>
    private bool TryGrantOrEnqueue(
        string agentId, int declaredLimit, AcquireOptions options, CancellationToken cancellationToken, out AgentSlot slot, out Waiter? waiter, out ConcurrencyErrorCode blocker)
    {
        ThrowIfCalledFromOwnClockRead();
        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                if (TryGrantAnyUnsynchronized(agentId, declaredLimit, options, ref work, out var gate, out slot, out blocker))
                {
                    waiter = null;
                    return true;
                }

                waiter = EnqueueOrRefuseUnsynchronized(gate, ref blocker, options, cancellationToken);
                return false;
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    public bool TryAcquire(string agentId, int declaredLimit, AcquireOptions options, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        if (TryGrantAtOnce(agentId, declaredLimit, options, out slot, out blocker))
        {
            _telemetry.Acquired(agentId);
            return true;
        }

        _telemetry.RefusedAtOnce(agentId, blocker);
        return false;
    }

    /// <summary>Grants a request whose needs all fit now; otherwise changes nothing and returns the limit in its way.</summary>
    private bool TryGrantAtOnce(string agentId, int declaredLimit, AcquireOptions options, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        ThrowIfCalledFromOwnClockRead();
        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                return TryGrantAnyUnsynchronized(agentId, declaredLimit, options, ref work, out _, out slot, out blocker);
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    /// <summary>An acquire's grant under the lock: a plain request on its short path, any other on the general one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryGrantAnyUnsynchronized(
        string agentId, int declaredLimit, AcquireOptions options, ref AfterLockWork work, out AgentGate gate, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        if (FindPlainGateUnsynchronized(agentId, declaredLimit, options) is { } plain)
        {
            gate = plain;
            return TryGrantPlainUnsynchronized(plain, ref work, out slot, out blocker);
        }

        return TryGrantUnsynchronized(agentId, declaredLimit, options, ref work, out gate, out slot, out blocker);
    }

    /// <summary>
    /// The gate of a plain request, the common case, which <see cref="TryGrantPlainUnsynchronized"/> decides on a short path
    /// of its own: no session, run id or source, for a known agent with the limit it declared last time and a plain gate.
    /// Null for any other request, which the general path decides.
    /// </summary>
    private AgentGate? FindPlainGateUnsynchronized(string agentId, int declaredLimit, AcquireOptions options) =>
        !_disposed && options.SessionId is null && options.RunId is null && options.Source is null
        && _gates.TryGetValue(agentId, out var gate) && gate.DeclaredLimit == declaredLimit && IsPlainGate(gate)
            ? gate
            : null;

    /// <summary>
    /// Grants a plain request if its gate and the run limit have room, making exactly the changes the general path would
    /// make for it, without that path's steps for everything it does not have (ids, sessions, sources, adaptive limits, a
    /// limit to update), which cost more than the grant itself. Otherwise changes nothing.
    /// </summary>
    private bool TryGrantPlainUnsynchronized(AgentGate gate, ref AfterLockWork work, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        if (FindBlockerUnsynchronized(gate.Active, gate.Limit, sessionId: null, source: null) is { } found)
        {
            blocker = found;
            slot = default;
            return false;
        }

        var run = StartPlainRunUnsynchronized(gate, ref work);
        SettleLimitTransitionsUnsynchronized(ref work);
        blocker = default;
        slot = new AgentSlot(run, TimeSpan.Zero);
        return true;
    }

    /// <summary>
    /// <see cref="StartRunUnsynchronized"/> for a run without ids or source at a plain gate: its gate's count and the run
    /// count are all it takes, and what the slot metrics ask of it when someone listens to them.
    /// </summary>
    private RunRecord StartPlainRunUnsynchronized(AgentGate gate, ref AfterLockWork work)
    {
        var run = RentRunUnsynchronized(gate, sessionId: null, runId: null);
        run.Gate = gate;
        gate.Active++;
        _activeRuns++;
        if (_telemetry.MeasuresSlots)
        {
            StartMeasuringUnsynchronized(run, gate, ref work);
        }

        GateChangedUnsynchronized(gate);
        Debug.Assert(_activeRuns <= (_settings.MaxParallelRuns ?? int.MaxValue), "Runs never exceed their limit.");
        return run;
    }

    /// <summary>Whether a run of <paramref name="gate"/> without ids or source would be a plain run: its gate's limit does not adapt.</summary>
    private static bool IsPlainGate(AgentGate gate) => gate.Adaptive is null;

    /// <summary>An acquire's step under the lock: checks the caller's run id, brings the agent's gate up to date, and grants if everything fits.</summary>
    private bool TryGrantUnsynchronized(
        string agentId, int declaredLimit, AcquireOptions options, ref AfterLockWork work, out AgentGate gate, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        ThrowIfDisposed();
        // Before the gate is touched, so that a caller error changes nothing (not even the gate's limit).
        if (options.RunId is not null)
        {
            FindRunToJoinOrThrowUnsynchronized(agentId, options);
        }

        gate = PrepareGateUnsynchronized(agentId, declaredLimit, ref work);
        return TryGrantNowUnsynchronized(gate, options, ref work, out slot, out blocker);
    }

    /// <summary>
    /// The limit a request would run into if it asked now, without asking: null when it would be granted (a new run, or
    /// a run it joins). Changes nothing, not even the gate's limit or its place among idle gates.
    /// </summary>
    public ConcurrencyErrorCode? FindBlocker(string agentId, int declaredLimit, AcquireOptions options)
    {
        ThrowIfCalledFromOwnClockRead();
        lock (_sync)
        {
            ThrowIfDisposed();
            if (options.RunId is not null && FindRunToJoinOrThrowUnsynchronized(agentId, options) is not null)
            {
                return null;
            }

            var active = _gates.TryGetValue(agentId, out var gate) ? gate.Active : 0;
            return FindBlockerUnsynchronized(active, LimitAnAcquireMeetsUnsynchronized(agentId, declaredLimit), options.SessionId, options.Source);
        }
    }

    /// <summary>One agent's numbers as they stand; an agent without a gate has nothing active or queued.</summary>
    public GateLoad ReadLoad(string agentId, int declaredLimit)
    {
        ThrowIfCalledFromOwnClockRead();
        lock (_sync)
        {
            return _gates.TryGetValue(agentId, out var gate)
                ? new GateLoad(gate.Limit, gate.Active, gate.Queued)
                : new GateLoad(LimitAnAcquireMeetsUnsynchronized(agentId, declaredLimit), Active: 0, Queued: 0);
        }
    }

    /// <summary>
    /// The limit an acquire would put in force, found without changing anything: the adaptive limit, learned or about to
    /// start, or else the last caller's declared limit, as in <see cref="PrepareGateUnsynchronized"/>.
    /// </summary>
    private int LimitAnAcquireMeetsUnsynchronized(string agentId, int declaredLimit)
    {
        if (!_settings.AdaptiveLimits.TryGetValue(agentId, out var adaptiveSettings))
        {
            return _settings.LimitFor(agentId, declaredLimit);
        }

        return _adaptiveLimits.TryGetValue(agentId, out var adaptive)
            ? adaptive.Limit
            : adaptiveSettings.Clamp(adaptiveSettings.InitialLimit ?? _settings.LimitFor(agentId, declaredLimit));
    }

    public SlotResult TryAcquireSessionSlot(string sessionId)
    {
        ThrowIfCalledFromOwnClockRead();
        lock (_sync)
        {
            ThrowIfDisposed();
            if (_sessions.TryGetValue(sessionId, out var session))
            {
                session.Pinned = true;
                return SlotResult.Success;
            }

            if (_sessions.Count >= _settings.MaxParallelSessions)
            {
                return SlotResult.Failed(ConcurrencyErrorCode.MaxSessionsExceeded);
            }

            _sessions.Add(sessionId, new SessionRecord(sessionId) { Pinned = true });
            return SlotResult.Success;
        }
    }

    public SlotResult TryAcquireRunSlot(string sessionId, string runId)
    {
        ThrowIfCalledFromOwnClockRead();
        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                ThrowIfDisposed();
                if (_runsById.TryGetValue(runId, out var active))
                {
                    if (active.Session?.Id != sessionId)
                    {
                        throw new ArgumentException(
                            $"Run '{runId}' is active in session '{active.Session?.Id ?? "(none)"}', not '{sessionId}'.", nameof(runId));
                    }

                    active.Holders++;
                    return SlotResult.Success;
                }

                if (!_sessions.ContainsKey(sessionId) && _sessions.Count >= _settings.MaxParallelSessions)
                {
                    return SlotResult.Failed(ConcurrencyErrorCode.MaxSessionsExceeded);
                }

                if (_activeRuns >= _settings.MaxParallelRuns)
                {
                    return SlotResult.Failed(ConcurrencyErrorCode.MaxRunsExceeded);
                }

                StartRunUnsynchronized(gate: null, sessionId, runId, source: null, ref work);

                // A waiter asking for this run id for an agent can no longer get it: tell it now, not at some later release.
                if (_waitersWithRunId > 0)
                {
                    ScanUnsynchronized(ref work);
                }

                return SlotResult.Success;
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    public void ReleaseRunSlot(string runId)
    {
        if (DeferredFromInsideTheLock(static state => state.Owner.ReleaseRunSlot(state.RunId), (Owner: this, RunId: runId)))
        {
            return;
        }

        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                if (_disposed || !_runsById.TryGetValue(runId, out var run))
                {
                    return;
                }

                EndRunUnsynchronized(run, ref work);
                ScanUnsynchronized(ref work);
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    public void ReleaseSessionSlot(string sessionId)
    {
        if (DeferredFromInsideTheLock(static state => state.Owner.ReleaseSessionSlot(state.SessionId), (Owner: this, SessionId: sessionId)))
        {
            return;
        }

        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                if (_disposed)
                {
                    return;
                }

                // Its waiters go first, so none of them can be granted by the capacity the session's runs give back.
                for (var waiter = _waiters.First; waiter is not null;)
                {
                    var next = waiter.Next;
                    if (waiter.SessionId == sessionId)
                    {
                        FailUnsynchronized(
                            waiter, new ConcurrencyLimitExceededException(ConcurrencyErrorCode.SessionReleased, waiter.Gate.AgentId), ref work);
                    }

                    waiter = next;
                }

                if (_sessions.Remove(sessionId, out var session))
                {
                    while (session.FirstRun is { } run)
                    {
                        EndRunUnsynchronized(run, ref work);
                    }
                }

                ScanUnsynchronized(ref work);
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    /// <summary>Releases the run a slot was granted for, unless that grant is no longer current.</summary>
    /// <param name="run">The run's record.</param>
    /// <param name="version">The record's version when the slot was granted.</param>
    /// <param name="ran">False for a grant handed straight back unused, which an adaptive limit must not take for a run.</param>
    public void Release(RunRecord run, long version, bool ran = true)
    {
        if (DeferredFromInsideTheLock(static state => state.Owner.Release(state.Run, state.Version, state.Ran), (Owner: this, Run: run, Version: version, Ran: ran)))
        {
            return;
        }

        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                // Stale (released another way, maybe reused since) or disposed: the permit is not this slot's to give back.
                if (_disposed || !run.IsVersion(version))
                {
                    return;
                }

                // A plain run, the common case: nothing kept for ids, sessions, sources or adaptive limits to undo; and with
                // nobody waiting, nothing to scan for.
                if (run.IsPlain)
                {
                    EndPlainRunUnsynchronized(run, ref work);
                    if (_waiters.First is null)
                    {
                        SettleLimitTransitionsUnsynchronized(ref work);
                    }
                    else
                    {
                        ScanUnsynchronized(ref work);
                    }

                    return;
                }

                if (!ran)
                {
                    // Handed back unused by one of several requests granted this run (its starter, or one that joined):
                    // the run stays with the others, and ends with them.
                    if (--run.Holders > 0)
                    {
                        return;
                    }

                    run.AdaptiveLimit = null;
                }

                EndRunUnsynchronized(run, ref work);
                ScanUnsynchronized(ref work);
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    /// <summary>Marks the run a slot was granted for as overloaded, unless that grant is no longer current.</summary>
    public void ReportOverload(RunRecord run, long version)
    {
        // Not put off when called from inside the lock (see DeferredFromInsideTheLock): it only marks the run, which a run's
        // end reads after its clock read, and a release put off after it must still find the mark.
        lock (_sync)
        {
            // Under the lock: a stale slot must not mark a later run that reuses the record.
            if (!_disposed && run.IsVersion(version))
            {
                run.Overloaded = true;
            }
        }
    }

    /// <summary>Every agent's limit in force: each gate's, and each adaptive agent's learned limit while it has no gate.</summary>
    public List<KeyValuePair<string, int>> ReadLimits()
    {
        ThrowIfCalledFromOwnClockRead();
        lock (_sync)
        {
            // A disposed limiter limits nothing: its series end, though a meter from the host's factory outlives it.
            if (_disposed)
            {
                return [];
            }

            var limits = new List<KeyValuePair<string, int>>(_gates.Count + _adaptiveLimits.Count);
            foreach (var gate in _gates.Values)
            {
                limits.Add(new(gate.AgentId, gate.Limit));
            }

            foreach (var (agentId, adaptive) in _adaptiveLimits)
            {
                if (!_gates.ContainsKey(agentId))
                {
                    limits.Add(new(agentId, adaptive.Limit));
                }
            }

            return limits;
        }
    }

    public ConcurrencyStatus GetStatus()
    {
        ThrowIfCalledFromOwnClockRead();
        AgentGate?[] gates;
        GateNumbers[] numbers;
        Waiter?[] waiters;
        int waiterCount, usedSlots, gateCount;
        ClockReading clock;
        GlobalReading counts;
        lock (_sync)
        {
            // Copy references and numbers only, three arrays: the gates, their numbers and the waiters. The snapshot's
            // order and objects are built after the lock, so a reader holds up acquires and releases for little more than
            // a memory copy.
            Debug.Assert(_gateList.IsInStepWith(_gates), "The gate list holds every gate, its numbers in step.");
            gateCount = _gateList.Count;
            gates = ArrayPool<AgentGate?>.Shared.Rent(gateCount);
            numbers = ArrayPool<GateNumbers>.Shared.Rent(gateCount);
            _gateList.CopyTo(gates, numbers);

            waiterCount = _waiters.Count;
            usedSlots = _waiterSlots.Used;
            waiters = ArrayPool<Waiter?>.Shared.Rent(usedSlots);
            _waiterSlots.CopyTo(waiters);

            // The snapshot keeps these waiters: none of them may serve another wait (see FinishWait).
            _statusSnapshots = unchecked(_statusSnapshots + 1);
            _readingClockUnderLock = true;
            try
            {
                clock = ClockReading.Now(_timeProvider);
            }
            finally
            {
                _readingClockUnderLock = false;
            }

            counts = new GlobalReading(_sessions.Count, _activeRuns, _settings.MaxParallelSessions, _settings.MaxParallelRuns);
        }

        try
        {
            return StatusBuilder.Build(gates.AsSpan(0, gateCount), numbers.AsSpan(0, gateCount), waiters.AsSpan(0, usedSlots), waiterCount, clock, counts);
        }
        finally
        {
            // Cleared, so the pool does not keep waiters and gates alive: only the part written to, since a rented array
            // can be up to nearly twice as long, and nothing else rents arrays of these internal types. The numbers hold
            // no references.
            Array.Clear(waiters, 0, usedSlots);
            Array.Clear(gates, 0, gateCount);
            ArrayPool<Waiter?>.Shared.Return(waiters);
            ArrayPool<AgentGate?>.Shared.Return(gates);
            ArrayPool<GateNumbers>.Shared.Return(numbers);
        }
    }

    /// <summary>
    /// Puts new limits in force without dropping anything: raised limits admit waiters at once, lowered ones let holders
    /// finish. Waiters keep the queue timeout they started with; new requests get the new one.
    /// </summary>
    /// <returns>Whether anything changed; false also after disposal.</returns>
    public bool ApplySettings(LimiterSettings settings)
    {
        ThrowIfCalledFromOwnClockRead();
        lock (_updateSync)
        {
            var work = default(AfterLockWork);
            TimeSpan previousIdleTimeout;
            try
            {
                lock (_sync)
                {
                    if (_disposed || settings.HasSameValues(_settings))
                    {
                        return false;
                    }

                    previousIdleTimeout = _settings.IdleAgentTimeout;
                    _settings = settings;
                    ReplaceAdaptiveLimitsUnsynchronized();
                    foreach (var gate in _gates.Values)
                    {
                        gate.Adaptive = AdaptiveLimitForUnsynchronized(gate.AgentId, gate.DeclaredLimit);
                        SetLimitUnsynchronized(gate, LimitInForceUnsynchronized(gate), ref work);
                    }

                    // Any limit may have grown (agent, runs, sessions, sources): serve whoever fits now.
                    ScanUnsynchronized(ref work);
                }
            }
            finally
            {
                work.Run(_telemetry);
            }

            if (settings.IdleAgentTimeout != previousIdleTimeout)
            {
                ScheduleIdleSweep(settings.IdleAgentTimeout);
            }

            return true;
        }
    }

    public void Dispose()
    {
        if (DeferredFromInsideTheLock(static state => state.Dispose(), this))
        {
            return;
        }

        var work = default(AfterLockWork);
        try
        {
            lock (_sync)
            {
                if (_disposed)
                {
                    return;
                }

                Volatile.Write(ref _disposed, true);

                // Releases after disposal do nothing, so the slots still held end here for the active-slots metric.
                foreach (var gate in _gates.Values)
                {
                    if (gate.CountedActive > 0)
                    {
                        work.Publish(new GateEvent(GateEventKind.RunsDiscarded, gate.AgentId, 0, gate.CountedActive, gate.Limit));
                        gate.CountedActive = 0;
                    }
                }

                while (_waiters.First is { } waiter)
                {
                    FailUnsynchronized(
                        waiter, new ObjectDisposedException(nameof(AgentConcurrencyLimiter), "The limiter was disposed while the request waited."), ref work);
                }
            }

            lock (_updateSync)
            {
                _idleSweepTimer?.Dispose();
            }
        }
        finally
        {
            work.Run(_telemetry);
        }
    }

    /// <summary>
    /// Sets up a queued request's wait (telemetry, its caller's OnQueued, its cancellation and timeout hooks) and returns
    /// the task its decider completes. The caller's task is completed directly by whoever decides the outcome, with no
    /// wrapper in between, so a grant reaches a caller that has not started awaiting yet without a thread hop.
    /// </summary>
    private ValueTask<AgentSlot> WaitForGrant(Waiter waiter, CancellationToken cancellationToken)
    {
        try
        {
            waiter.Stamp(_timeProvider.GetTimestamp());
        }
        catch
        {
            // The host's clock failed: the request leaves before its wait is recorded (a grant decided for it meanwhile goes
            // back), and the caller gets the failure at once.
            Abandon(waiter);
            throw;
        }

        var agentId = waiter.Gate.AgentId;
        waiter.Wait = _telemetry.Queued(agentId, waiter.InitialPosition);
        if (waiter.OnQueued is { } onQueued)
        {
            try
            {
                onQueued(waiter.ToQueuedRequest(waiter.InitialPosition, ClockReading.Now(_timeProvider)));
            }
            catch (Exception failure)
            {
                // The caller's callback failed: the request leaves, and the caller gets the failure through its task, as
                // it gets every other outcome.
                Abandon(waiter);
                _telemetry.WaitEnded(agentId, waiter.Wait, WaitedSoFar(waiter), RequestResult.Canceled, errorCode: null);
                return ValueTask.FromException<AgentSlot>(failure);
            }
        }

        // Both hooks are set up outside the lock: a token already cancelled runs its callback inside UnsafeRegister, and
        // a due timer may fire inside CreateTimer; each callback takes the lock itself.
        try
        {
            waiter.Registration = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var self = (Waiter)state!;
                    self.Owner.Cancel(self);
                },
                waiter);
            waiter.Timer = StartQueueTimer(waiter);
        }
        catch (Exception failure)
        {
            // Without its hooks the request could wait forever or hold a grant nobody takes: it leaves, as on OnQueued.
            waiter.Registration.Dispose();
            Abandon(waiter);
            _telemetry.WaitEnded(agentId, waiter.Wait, WaitedSoFar(waiter), failure);
            return ValueTask.FromException<AgentSlot>(failure);
        }

        // From here its decider finishes the wait; if the outcome was decided while the hooks were set up, it is ours to.
        var pending = waiter.AsValueTask();
        if (!waiter.TryMarkReady())
        {
            FinishWait(waiter);
        }

        return pending;
    }

    /// <summary>
    /// Ends a wait whose outcome was decided: removes its hooks, applies the cancel-vs-grant rule, records it, and
    /// completes the caller's task. Called once, outside the lock, by the decider or (if decided during set-up) the caller.
    /// </summary>
    internal void FinishWait(Waiter waiter)
    {
        // Unregister, not Dispose: this may run inside the very cancellation callback, which Dispose would wait for.
        var callbackGone = !waiter.CancellationToken.CanBeCanceled || waiter.Registration.Unregister();
        DisposeQuietly(waiter.Timer);

        // The waiter may serve another wait once its caller has taken this one's outcome, if nothing else can reach it
        // then: no cancellation callback that may still be running (one that was unregistered never runs), no timer (a
        // disposed timer may still fire once), and no status snapshot taken while it was queued (a snapshot keeps its
        // waiters to describe them when read). A snapshot taken after the waiter left the queue cannot list it.
        var reusable = callbackGone && waiter.Timer is null && waiter.StatusSnapshotsAtEnqueue == Volatile.Read(ref _statusSnapshots);
        var agentId = waiter.Gate.AgentId;
        if (waiter.Failure is { } failure)
        {
            _telemetry.WaitEnded(agentId, waiter.Wait, WaitedSoFar(waiter), failure);
            waiter.SetException(failure, reusable);
            return;
        }

        // Cancelled in the queue, or granted while a cancel was on its way: the caller asked to stop waiting before it
        // had its slot, so it gets its cancellation and a grant goes back (to the next waiter that fits). The scan does
        // not grant a waiter whose token is already cancelled, so this give-back only follows a cancel that landed in
        // the moment between the grant and here, and a chain of them cannot build up.
        if (waiter.Canceled || waiter.CancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!waiter.Canceled)
                {
                    waiter.ReturnUnwantedGrant();
                }

                _telemetry.WaitEnded(agentId, waiter.Wait, WaitedSoFar(waiter), RequestResult.Canceled, errorCode: null);
            }
            finally
            {
                waiter.SetCanceled(reusable);
            }

            return;
        }

        var slot = waiter.GrantedSlot.WithWaitTime(WaitedSoFar(waiter));
        _telemetry.WaitEnded(agentId, waiter.Wait, slot.WaitTime, RequestResult.Acquired, errorCode: null);
        waiter.SetResult(slot, reusable);
    }

    /// <summary>
    /// Disposes a queue timer whatever its clock does: the timer comes from the host's <see cref="TimeProvider"/>, and its
    /// failure must not keep the wait (or the waiters completed after it) from ending.
    /// </summary>
    private static void DisposeQuietly(ITimer? timer)
    {
        try
        {
            timer?.Dispose();
        }
        catch (Exception failure) when (failure is not (OutOfMemoryException or StackOverflowException))
        {
            // The timer fires at most once more, and its callback finds the waiter gone.
        }
    }

    /// <summary>
    /// The host's clock as a run starts, for its duration; null if the clock fails, which must not keep a run from starting
    /// (nor leave one half-done under the lock), as it must not keep a wait from ending. Read under the lock, flagged so
    /// that what the read runs cannot re-enter the operation (see <see cref="CalledFromOwnClockRead"/>).
    /// </summary>
    private long? TimestampUnderLockOrNull()
    {
        _readingClockUnderLock = true;
        try
        {
            return _timeProvider.GetTimestamp();
        }
        catch (Exception failure) when (failure is not (OutOfMemoryException or StackOverflowException))
        {
            return null;
        }
        finally
        {
            _readingClockUnderLock = false;
        }
    }

    /// <summary>How long a run has lasted, read under the lock as <see cref="TimestampUnderLockOrNull"/> reads its start: null if the clock fails.</summary>
    private TimeSpan? ElapsedUnderLockOrNull(long startedTimestamp)
    {
        _readingClockUnderLock = true;
        try
        {
            return _timeProvider.GetElapsedTime(startedTimestamp);
        }
        catch (Exception failure) when (failure is not (OutOfMemoryException or StackOverflowException))
        {
            return null;
        }
        finally
        {
            _readingClockUnderLock = false;
        }
    }

    /// <summary>
    /// Whether the caller runs inside this limiter's own read of the host's clock under its lock, which the lock would let
    /// in again: a <see cref="TimeProvider"/> that runs due timers when read (FakeTimeProvider with AutoAdvanceAmount) runs
    /// their callbacks right there, in the middle of an operation. The flag is read first, so that other calls pay no
    /// thread-id lookup; a thread that sees it set while another thread reads the clock does not hold the lock.
    /// </summary>
    private bool CalledFromOwnClockRead() => _readingClockUnderLock && _sync.IsHeldByCurrentThread;

    /// <summary>
    /// Refuses a call that would read or change the limiter in the middle of the operation whose clock read runs it (see
    /// <see cref="CalledFromOwnClockRead"/>). Releases, cancellations and disposal are put off until the operation is done
    /// instead (<see cref="DeferredFromInsideTheLock"/>); acquires and reads cannot wait for it, as their callers wait for them.
    /// </summary>
    private void ThrowIfCalledFromOwnClockRead()
    {
        if (CalledFromOwnClockRead())
        {
            throw new InvalidOperationException(
                "The limiter was called from a timer that its own clock ran while the limiter read it, in the middle of an operation. "
                + "Only releases, cancellations and disposal may be: they take effect once that operation is done.");
        }
    }

    /// <summary>
    /// How long a wait has lasted, for telemetry and a granted slot's wait time; zero if the host's clock fails, for the
    /// same reason: a failing clock must not keep the wait from ending.
    /// </summary>
    private TimeSpan WaitedSoFar(Waiter waiter)
    {
        try
        {
            return _timeProvider.GetElapsedTime(waiter.EnqueuedTimestamp);
        }
        catch (Exception failure) when (failure is not (OutOfMemoryException or StackOverflowException))
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Throws if the limiter was disposed; read without the lock, for callers that must fail before taking it.</summary>
    public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), typeof(AgentConcurrencyLimiter));


    private ITimer? StartQueueTimer(Waiter waiter)
    {
        var timeout = waiter.QueueTimeout;
        if (TimeoutRules.IsInfinite(timeout))
        {
            return null;
        }

        // Measured from enqueue, so time spent in the caller's OnQueued counts against the timeout.
        var remaining = timeout.GetValueOrDefault() - _timeProvider.GetElapsedTime(waiter.EnqueuedTimestamp);
        if (remaining <= TimeSpan.Zero)
        {
            TimeOut(waiter);
            return null;
        }

        return _timeProvider.CreateTimer(
            static state =>
            {
                var self = (Waiter)state!;
                self.Owner.TimeOut(self);
            },
            waiter,
            remaining,
            Timeout.InfiniteTimeSpan);
    }

    private void Cancel(Waiter waiter)
    {
        // Its token's timer may run on the host's clock, inside a read of it under the lock (see DeferredFromInsideTheLock).
        // A scan that reaches the waiter first cancels it itself.
        if (DeferredFromInsideTheLock(static waiter => waiter.Owner.Cancel(waiter), waiter))
        {
            return;
        }

        lock (_sync)
        {
            // Already granted or failed: whoever took it out of the queue completes it; a late cancel changes nothing.
            if (!waiter.IsQueued)
            {
                return;
            }

            // No scan: a waiter holds nothing, so its leaving frees no capacity for anyone else.
            DequeueUnsynchronized(waiter);
            waiter.Canceled = true;
        }

        waiter.Complete();
    }

    private void TimeOut(Waiter waiter)
    {
        if (DeferredFromInsideTheLock(static waiter => waiter.Owner.TimeOut(waiter), waiter))
        {
            return;
        }

        lock (_sync)
        {
            // A stale firing after a grant, a cancel or disposal finds the waiter gone and does nothing.
            if (!waiter.IsQueued)
            {
                return;
            }

            DequeueUnsynchronized(waiter);
            waiter.Failure = new ConcurrencyLimitExceededException(ConcurrencyErrorCode.QueueTimeout, waiter.Gate.AgentId);
        }

        waiter.Complete();
    }

    /// <summary>
    /// Takes a waiter whose caller gave up during set-up out of the queue. If its outcome was decided first, a grant goes
    /// back: by the decider if it has not handed the outcome over yet (so its "slot taken" is counted before this
    /// "slot given back"), or here if it has.
    /// </summary>
    private void Abandon(Waiter waiter)
    {
        lock (_sync)
        {
            if (waiter.IsQueued)
            {
                DequeueUnsynchronized(waiter);
                return;
            }
        }

        if (!waiter.TryMarkAbandoned())
        {
            waiter.ReturnUnwantedOutcome();
        }
    }

    /// <summary>
    /// Queues a callback to the thread pool if it was called from inside this limiter's own clock read under its lock (see
    /// <see cref="CalledFromOwnClockRead"/>), and says so. The lock is held while the host's clock is read for a run's
    /// start or end (a run timed for <c>slot.duration</c>, or one its adaptive limit learns from) and for a status
    /// snapshot, and a <see cref="TimeProvider"/> that runs due timers when read (FakeTimeProvider with AutoAdvanceAmount)
    /// runs them right there, in the middle of that operation: a queue timeout, a cancellation by a token on that clock or
    /// a slot released by the host's own timer would change the queue a scan is walking. Queued, it runs once the
    /// operation is done.
    /// </summary>
    private bool DeferredFromInsideTheLock<TState>(Action<TState> callback, TState state)
    {
        if (!CalledFromOwnClockRead())
        {
            return false;
        }

        ThreadPool.UnsafeQueueUserWorkItem(callback, state, preferLocal: false);
        return true;
    }

    /// <summary>Starts, retimes or stops the idle sweep for <paramref name="idleAgentTimeout"/>. Called outside the state lock.</summary>
    private void ScheduleIdleSweep(TimeSpan idleAgentTimeout)
    {
        if (idleAgentTimeout == Timeout.InfiniteTimeSpan)
        {
            _idleSweepTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        // Clamped to what a timer can do: below 1 ms a system timer would fire once and stop; above its maximum it
        // throws. A gate is dropped once it has been idle for more whole periods than the timeout spans.
        var period = TimeSpan.FromTicks(Math.Clamp(
            idleAgentTimeout.Ticks / SweepTicksPerIdleTimeout, TimeSpan.TicksPerMillisecond, TimeoutRules.MaxFinite.Ticks));
        lock (_sync)
        {
            _sweepTicksToDrop = (idleAgentTimeout.Ticks + period.Ticks - 1) / period.Ticks;
        }

        if (_idleSweepTimer is not null)
        {
            _idleSweepTimer.Change(period, period);
            return;
        }

        // The timer holds the state weakly, so a limiter nobody references (and nobody disposed) can still be collected.
        _idleSweepTimer = _timeProvider.CreateTimer(
            static state =>
            {
                if (((WeakReference<LimiterState>)state!).TryGetTarget(out var limiterState))
                {
                    limiterState.SweepIdleGates();
                }
            },
            new WeakReference<LimiterState>(this),
            period,
            period);
    }

    private void SweepIdleGates()
    {
        if (DeferredFromInsideTheLock(static state => state.SweepIdleGates(), this))
        {
            return;
        }

        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _sweepTick++;
            var dropped = 0;
            while (_idleGates.First is { } gate)
            {
                if (!gate.IsIdle)
                {
                    // Turned busy after it was listed: it goes back to the tail when it next turns idle.
                    _idleGates.Remove(gate);
                    continue;
                }

                // The idle gates are in the order they went idle, so the first one kept ends the sweep.
                if (_sweepTick - gate.IdleSinceTick <= _sweepTicksToDrop)
                {
                    break;
                }

                _idleGates.Remove(gate);
                _gates.Remove(gate.AgentId);
                _gateList.Remove(gate);
                _pooledRuns -= Math.Max(gate.FreeRunCount - 1, 0);
                dropped++;
            }

            // A dictionary keeps its buckets after removals; give them back once most of them are empty.
            if (dropped > 0 && _gates.Count * 4 < _gates.EnsureCapacity(0))
            {
                _gates.TrimExcess();
            }
        }
    }

    /// <summary>
    /// The adaptive limit of <paramref name="agentId"/> if the settings give it one, created on first need so that it
    /// starts from the static limit of the agent's first caller.
    /// </summary>
    private AdaptiveLimit? AdaptiveLimitForUnsynchronized(string agentId, int declaredLimit)
    {
        if (!_settings.AdaptiveLimits.TryGetValue(agentId, out var adaptiveSettings))
        {
            return null;
        }

        ref var adaptive = ref CollectionsMarshal.GetValueRefOrAddDefault(_adaptiveLimits, agentId, out _);
        adaptive ??= AdaptiveLimit.Create(adaptiveSettings, adaptiveSettings.InitialLimit ?? _settings.LimitFor(agentId, declaredLimit));
        return adaptive;
    }

    /// <summary>
    /// Brings the learned limits in step with new settings: an unchanged entry keeps what it learned, a changed one starts
    /// again from the limit in force, and a removed one is forgotten.
    /// </summary>
    private void ReplaceAdaptiveLimitsUnsynchronized()
    {
        foreach (var (agentId, adaptive) in _adaptiveLimits.ToArray())
        {
            if (!_settings.AdaptiveLimits.TryGetValue(agentId, out var adaptiveSettings))
            {
                _adaptiveLimits.Remove(agentId);
            }
            else if (adaptiveSettings != adaptive.Settings)
            {
                _adaptiveLimits[agentId] = AdaptiveLimit.Create(adaptiveSettings, adaptive.Limit);
            }
        }
    }

    /// <summary>Feeds an ending run to its agent's adaptive limit, and resizes the gate if the limit moved. The caller scans.</summary>
    private void AdaptUnsynchronized(AgentGate gate, in RunSample sample, ref AfterLockWork work)
    {
        var adaptive = gate.Adaptive!;
        if (adaptive.OnRunEnded(sample))
        {
            var previous = gate.Limit;
            SetLimitUnsynchronized(gate, adaptive.Limit, ref work);
            work.Publish(new GateEvent(GateEventKind.LimitAdapted, gate.AgentId, 0, gate.Active, gate.Limit, previous));
        }
    }

    /// <summary>A gate for an agent the state does not know yet, with its adaptive limit if the settings give it one.</summary>
    private AgentGate NewGateUnsynchronized(string agentId, int declaredLimit)
    {
        var gate = new AgentGate(agentId, declaredLimit) { Adaptive = AdaptiveLimitForUnsynchronized(agentId, declaredLimit) };
        gate.Limit = LimitInForceUnsynchronized(gate);
        return gate;
    }

    /// <summary>The limit a gate must have under the settings in force: its adaptive limit's, or else the static one.</summary>
    private int LimitInForceUnsynchronized(AgentGate gate) => gate.Adaptive?.Limit ?? _settings.LimitFor(gate.AgentId, gate.DeclaredLimit);

    private AgentGate PrepareGateUnsynchronized(string agentId, int declaredLimit, ref AfterLockWork work)
    {
        if (!_gates.TryGetValue(agentId, out var gate))
        {
            gate = NewGateUnsynchronized(agentId, declaredLimit);
            _gates.Add(agentId, gate);
            _gateList.Add(gate);
            _idleGates.Add(gate, _sweepTick);
            return gate;
        }

        // The common case: the same limit as last time, which is already in force (options changes and adaptive limits
        // set every gate's limit when they happen).
        if (gate.DeclaredLimit == declaredLimit)
        {
            return gate;
        }

        // The last caller's limit wins, unless the limit adapts. Growing admits this gate's waiters before the caller that
        // grew it is considered; shrinking admits nobody until active drops below the new limit, and holders finish undisturbed.
        gate.DeclaredLimit = declaredLimit;
        if (gate.Adaptive is null && SetLimitUnsynchronized(gate, LimitInForceUnsynchronized(gate), ref work) && gate.Queued > 0)
        {
            ScanUnsynchronized(ref work);
        }

        return gate;
    }

    /// <summary>Sets a gate's limit; returns whether it grew. The caller scans if waiters may now fit.</summary>
    private bool SetLimitUnsynchronized(AgentGate gate, int limit, ref AfterLockWork work)
    {
        var grew = limit > gate.Limit;
        gate.Limit = limit;
        GateChangedUnsynchronized(gate);
        return grew;
    }

    /// <summary>
    /// Notes that a gate's active count or limit changed: if it now stands on the other side of its limit than when last
    /// settled, it is settled once, at the end of the operation. A gate that stands where it stood needs nothing; if a
    /// later change in the same operation moves it across, that change notes it, so the settled outcome is the same as
    /// noting every gate, without touching the list on the uncontended path.
    /// </summary>
    private void TouchUnsynchronized(AgentGate gate)
    {
        if (!gate.Touched && (gate.Active >= gate.Limit) != gate.AtLimit)
        {
            gate.Touched = true;
            gate.NextTouched = _touchedGates;
            _touchedGates = gate;
        }
    }

    /// <summary>
    /// Records each touched gate that reached or left its limit since it was last settled. Settled once per operation,
    /// after its scan, so that a release handing the slot straight to a waiter is no transition at all: the log says
    /// "reached" and "left" once per crossing, not once per request.
    /// </summary>
    private void SettleLimitTransitionsUnsynchronized(ref AfterLockWork work)
    {
        while (_touchedGates is { } gate)
        {
            _touchedGates = gate.NextTouched;
            gate.NextTouched = null;
            gate.Touched = false;
            var atLimit = gate.Active >= gate.Limit;
            if (atLimit != gate.AtLimit)
            {
                // Always recorded, and logged after the lock only if enabled: no logger is asked anything under the lock. With
                // no logger at all, an agent of limit 1 would publish two events a run for nobody.
                gate.AtLimit = atLimit;
                if (_telemetry.Logs)
                {
                    work.Publish(new GateEvent(atLimit ? GateEventKind.LimitReached : GateEventKind.LimitLeft, gate.AgentId, 0, gate.Active, gate.Limit));
                }
            }
        }
    }

    private bool TryGrantNowUnsynchronized(
        AgentGate gate, AcquireOptions options, ref AfterLockWork work, out AgentSlot slot, out ConcurrencyErrorCode blocker)
    {
        blocker = default;
        // Checked again after PrepareGateUnsynchronized: a scan it ran may have started this run id since.
        var run = options.RunId is null ? null : FindRunToJoinOrThrowUnsynchronized(gate.AgentId, options);
        if (run is null)
        {
            if (FindBlockerUnsynchronized(gate.Active, gate.Limit, options.SessionId, options.Source) is { } found)
            {
                // The gate's limit may have changed in PrepareGateUnsynchronized.
                SettleLimitTransitionsUnsynchronized(ref work);
                blocker = found;
                slot = default;
                return false;
            }

            run = StartRunUnsynchronized(gate, options.SessionId, options.RunId, options.Source, ref work);

            // A waiter may be waiting to join this run id, or must learn that it is now taken: settle it now.
            if (options.RunId is not null && _waitersWithRunId > 0)
            {
                ScanUnsynchronized(ref work);
            }
        }
        else
        {
            run.Holders++;
        }

        SettleLimitTransitionsUnsynchronized(ref work);
        slot = new AgentSlot(run, TimeSpan.Zero);
        return true;
    }

    /// <summary>Why a request that cannot be granted now must fail at once; null when it may wait.</summary>
    private ConcurrencyErrorCode? RefusalUnsynchronized(AgentGate gate, ConcurrencyErrorCode blocker, TimeSpan? timeout)
    {
        if (_settings.WhenFull == QueueFullMode.Reject)
        {
            return blocker;
        }

        if (gate.Queued >= _settings.QueueLimit)
        {
            return ConcurrencyErrorCode.QueueFull;
        }

        // A zero timeout fails at once without a timer (and without OnQueued): the request would have to wait.
        return timeout == TimeSpan.Zero ? ConcurrencyErrorCode.QueueTimeout : null;
    }

    /// <summary>
    /// Finds the active run a request joins, or returns null when it needs a new run; sets <paramref name="conflict"/>
    /// when its run id is active in a way it cannot join (another agent, no agent, another session).
    /// </summary>
    private RunRecord? FindRunToJoinUnsynchronized(string agentId, string? sessionId, string? runId, out string? conflict)
    {
        conflict = null;
        if (runId is null || !_runsById.TryGetValue(runId, out var run))
        {
            return null;
        }

        // Ids, not gate objects: a gate with an active run is never dropped, so its id names it.
        if (run.Gate?.AgentId != agentId)
        {
            conflict = run.Gate is null
                ? $"Run '{runId}' is active as a run slot with no agent; agent '{agentId}' cannot join it."
                : $"Run '{runId}' is active for agent '{run.Gate.AgentId}'; agent '{agentId}' cannot join it.";
            return null;
        }

        if (sessionId is not null && run.Session?.Id != sessionId)
        {
            conflict = $"Run '{runId}' is active in session '{run.Session?.Id ?? "(none)"}', not '{sessionId}'.";
            return null;
        }

        return run;
    }

    /// <summary>The active run a request joins, or null when it needs a new run; a run id it cannot join is a caller error.</summary>
    private RunRecord? FindRunToJoinOrThrowUnsynchronized(string agentId, AcquireOptions options)
    {
        var run = FindRunToJoinUnsynchronized(agentId, options.SessionId, options.RunId, out var conflict);
        return conflict is null ? run : throw new ArgumentException(conflict, nameof(options));
    }

    /// <summary>The first limit a new run would exceed, in the order rejections report them; null when all have room.</summary>
    private ConcurrencyErrorCode? FindBlockerUnsynchronized(int active, int limit, string? sessionId, string? source)
    {
        if (active >= limit)
        {
            return ConcurrencyErrorCode.AgentLimitReached;
        }

        if (source is not null && _settings.MaxConcurrencyPerSource is { } perSource && _sourceCounts.GetValueOrDefault(source) >= perSource)
        {
            return ConcurrencyErrorCode.SourceLimitReached;
        }

        if (sessionId is not null && _sessions.Count >= _settings.MaxParallelSessions && !_sessions.ContainsKey(sessionId))
        {
            return ConcurrencyErrorCode.MaxSessionsExceeded;
        }

        return _activeRuns >= _settings.MaxParallelRuns ? ConcurrencyErrorCode.MaxRunsExceeded : null;
    }

    /// <summary>Serves the queue in order: grants every waiter whose needs all fit, working needs out as grants change them.</summary>
    [SuppressMessage("Usage", "CA2208:Instantiate argument exceptions correctly", Justification = "The waiter's caller passed the run id in its 'options' argument.")]
    private void ScanUnsynchronized(ref AfterLockWork work)
    {
        // A grant only ever takes capacity, so one pass settles every waiter, except that a grant starting a run id can
        // let a waiter already passed join that run (or fail if it wanted the id elsewhere): then pass again. Each
        // extra pass needs a newly started run id, so this ends.
        Debug.Assert(_waitersAtOpenGates == CountWaitersAtOpenGates(), "The count of waiters at open gates is kept exact.");

        bool startedRunWithId;
        do
        {
            startedRunWithId = false;
            for (var waiter = _waiters.First; waiter is not null && !NoGrantPossibleUnsynchronized();)
            {
                var next = waiter.Next;
                var gate = waiter.Gate;

                // The common case of a long queue: waiting for its own full gate, with no run to join. Nothing to check.
                if (waiter.RunId is null && gate.Active >= gate.Limit)
                {
                    waiter = next;
                    continue;
                }

                // Its caller cancelled and the callback has not run yet: the cancel wins here and now, rather than a grant
                // that would have to be given back after the lock.
                if (waiter.CancellationToken.IsCancellationRequested)
                {
                    DequeueUnsynchronized(waiter);
                    waiter.Canceled = true;
                    work.Complete(waiter);
                    waiter = next;
                    continue;
                }

                var run = FindRunToJoinUnsynchronized(gate.AgentId, waiter.SessionId, waiter.RunId, out var conflict);
                if (conflict is not null)
                {
                    FailUnsynchronized(waiter, new ArgumentException(conflict, "options"), ref work);
                }
                else if (run is not null || FindBlockerUnsynchronized(gate.Active, gate.Limit, waiter.SessionId, waiter.Source) is null)
                {
                    if (run is not null)
                    {
                        run.Holders++;
                    }
                    else
                    {
                        run = waiter.SessionId is null && waiter.RunId is null && waiter.Source is null && IsPlainGate(gate)
                            ? StartPlainRunUnsynchronized(gate, ref work)
                            : StartRunUnsynchronized(gate, waiter.SessionId, waiter.RunId, waiter.Source, ref work);
                        startedRunWithId |= waiter.RunId is not null;
                    }

                    DequeueUnsynchronized(waiter);
                    // Its wait time is read when the wait is finished, after the lock: no wait reads the clock under it.
                    waiter.GrantedSlot = new AgentSlot(run, TimeSpan.Zero);
                    work.Complete(waiter);
                }

                waiter = next;
            }
        }
        while (startedRunWithId && _waitersWithRunId > 0);

        // Every change to a gate (release, resize, session release, grant) ends in a scan or a grant now, and so here.
        SettleLimitTransitionsUnsynchronized(ref work);
    }

    private int CountWaitersAtOpenGates()
    {
        var count = 0;
        foreach (var gate in _gates.Values)
        {
            count += gate.OpenWaiters;
        }

        return count;
    }

    /// <summary>
    /// Whether no waiter can be granted, so a scan need not walk the queue: with no run id waiting, every grant starts a
    /// run, which needs a gate with room and a free run slot. Keeps a release O(1) however long the queue of full agents
    /// is, and ends a scan as soon as the run slots are gone.
    /// </summary>
    private bool NoGrantPossibleUnsynchronized() =>
        _waitersWithRunId == 0 && (_waitersAtOpenGates == 0 || _activeRuns >= _settings.MaxParallelRuns);

    /// <summary>
    /// The rest of an acquire that did not fit: queues it, or returns null and sets <paramref name="blocker"/> to the
    /// reason it must fail at once instead. Its own method, so that the uncontended acquire does not carry it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Waiter? EnqueueOrRefuseUnsynchronized(AgentGate gate, ref ConcurrencyErrorCode blocker, AcquireOptions options, CancellationToken cancellationToken)
    {
        var timeout = options.QueueTimeout ?? _settings.QueueTimeout;
        if (RefusalUnsynchronized(gate, blocker, timeout) is { } refusal)
        {
            blocker = refusal;
            return null;
        }

        return EnqueueUnsynchronized(gate, options, timeout, cancellationToken);
    }

    /// <param name="gate">The gate the request waits for.</param>
    /// <param name="options">The request's options.</param>
    /// <param name="timeout">How long it may wait: the caller's, or the one in force when it asked.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    private Waiter EnqueueUnsynchronized(AgentGate gate, AcquireOptions options, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var waiter = Waiter.Start(this, gate, options, timeout, _statusSnapshots, cancellationToken);
        waiter.Sequence = ++_enqueued;
        var placedAhead = _waiters.Insert(waiter);
        _waiterSlots.Add(waiter);
        gate.Queued++;
        waiter.InitialPosition = gate.Queued - placedAhead;
        if (waiter.RunId is not null)
        {
            _waitersWithRunId++;
        }

        GateChangedUnsynchronized(gate);
        return waiter;
    }

    private void DequeueUnsynchronized(Waiter waiter)
    {
        _waiters.Remove(waiter);
        _waiterSlots.Remove(waiter);
        waiter.Gate.Queued--;
        if (waiter.RunId is not null)
        {
            _waitersWithRunId--;
        }

        GateChangedUnsynchronized(waiter.Gate);
        Debug.Assert(waiter.Gate.Queued >= 0 && _waitersWithRunId >= 0, "Queue counts never go negative.");
    }

    private void FailUnsynchronized(Waiter waiter, Exception failure, ref AfterLockWork work)
    {
        DequeueUnsynchronized(waiter);
        waiter.Failure = failure;
        work.Complete(waiter);
    }

    private RunRecord StartRunUnsynchronized(AgentGate? gate, string? sessionId, string? runId, string? source, ref AfterLockWork work)
    {
        var run = RentRunUnsynchronized(gate, sessionId, runId);
        run.Gate = gate;
        run.Source = source;
        run.Holders = 1;
        if (gate is not null)
        {
            gate.Active++;
            if (gate.Adaptive is { } adaptive)
            {
                run.AdaptiveLimit = adaptive;
                run.AdaptiveEpoch = adaptive.Epoch;
                run.TookLastSlot = gate.Active >= gate.Limit;
            }

            StartMeasuringUnsynchronized(run, gate, ref work);
            GateChangedUnsynchronized(gate);
        }

        _activeRuns++;
        if (source is not null)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_sourceCounts, source, out _)++;
        }

        if (sessionId is not null)
        {
            ref var session = ref CollectionsMarshal.GetValueRefOrAddDefault(_sessions, sessionId, out var existed);
            session ??= new SessionRecord(sessionId);
            session.AddRun(run);

            // Only a new session must fit: after the limit was lowered, the sessions already active may exceed it.
            Debug.Assert(existed || _sessions.Count <= (_settings.MaxParallelSessions ?? int.MaxValue), "Sessions never exceed their limit.");
        }

        if (runId is not null)
        {
            _runsById.Add(runId, run);
        }

        Debug.Assert(_activeRuns <= (_settings.MaxParallelRuns ?? int.MaxValue), "Runs never exceed their limit.");
        return run;
    }

    /// <summary>
    /// Marks a starting run for what measures it: the slot metrics someone listens to, and its agent's adaptive limit (set
    /// on the run before). Both need its start time; a run whose start the host's clock cannot date starts all the same,
    /// untimed, and teaches its adaptive limit nothing.
    /// </summary>
    private void StartMeasuringUnsynchronized(RunRecord run, AgentGate gate, ref AfterLockWork work)
    {
        // Its end is counted only if its start was, so a listener that subscribes mid-run never sees -1 without +1.
        run.Counted = _telemetry.CountsSlots;
        run.Timed = _telemetry.TimesSlots;
        run.StartedTimestamp = 0;
        if (run.Timed || run.AdaptiveLimit is not null)
        {
            if (TimestampUnderLockOrNull() is { } started)
            {
                run.StartedTimestamp = started;
            }
            else
            {
                run.Timed = false;
                run.AdaptiveLimit = null;
            }
        }

        // Only the active-slots metric records a start; a run that is only timed publishes nothing until its end.
        if (run.Counted)
        {
            gate.CountedActive++;
            work.Publish(new GateEvent(GateEventKind.RunStarted, gate.AgentId, 0, 1, gate.Limit));
        }
    }

    /// <summary>The slot metrics' part of a run's end: its -1 if its start was counted, its duration if it was timed.</summary>
    private static void EndMeasuringUnsynchronized(RunRecord run, AgentGate gate, ref AfterLockWork work)
    {
        if (run.Counted || run.Timed)
        {
            gate.CountedActive -= run.Counted ? 1 : 0;
            work.Publish(new GateEvent(GateEventKind.RunEnded, gate.AgentId, run.Timed ? run.StartedTimestamp : 0, run.Counted ? 1 : 0, gate.Limit));
        }
    }

    private void EndRunUnsynchronized(RunRecord run, ref AfterLockWork work)
    {
        var gate = run.Gate;

        // A run started before its agent's adaptive settings changed ran under a limit the new one knows nothing of. A run
        // whose end the host's clock cannot time ends all the same, and teaches nothing.
        var sample = run.AdaptiveLimit is { } adaptive && ReferenceEquals(adaptive, gate?.Adaptive) && ElapsedUnderLockOrNull(run.StartedTimestamp) is { } ran
            ? new RunSample(ran, run.Overloaded, run.TookLastSlot, run.AdaptiveEpoch)
            : (RunSample?)null;
        if (gate is not null)
        {
            gate.Active--;
            EndMeasuringUnsynchronized(run, gate, ref work);

            if (sample is { } ended)
            {
                AdaptUnsynchronized(gate, ended, ref work);
            }

            GateChangedUnsynchronized(gate);
            Debug.Assert(gate.Active >= 0, "A gate's active count never goes negative.");
        }

        _activeRuns--;
        if (run.Source is { } source)
        {
            ref var count = ref CollectionsMarshal.GetValueRefOrNullRef(_sourceCounts, source);
            if (--count == 0)
            {
                _sourceCounts.Remove(source);
            }
        }

        if (run.Session is { } session)
        {
            session.RemoveRun(run);
            if (session.RunCount == 0 && !session.Pinned)
            {
                _sessions.Remove(session.Id);
            }
        }

        if (run.RunId is { } runId)
        {
            _runsById.Remove(runId);
        }

        RetireRunUnsynchronized(run, gate);
    }

    /// <summary>
    /// <see cref="EndRunUnsynchronized"/> for a run that is <see cref="RunRecord.IsPlain"/>: its gate's count and the run
    /// count are all it holds, and what the slot metrics ask of its end.
    /// </summary>
    private void EndPlainRunUnsynchronized(RunRecord run, ref AfterLockWork work)
    {
        var gate = run.Gate!;
        gate.Active--;
        EndMeasuringUnsynchronized(run, gate, ref work);
        GateChangedUnsynchronized(gate);
        _activeRuns--;
        Debug.Assert(gate.Active >= 0, "A gate's active count never goes negative.");
        RetireRunUnsynchronized(run, gate);
    }

    /// <summary>Makes an ended run's slots inert and keeps its record for its gate's later runs if it can serve them (see <see cref="RunRecord"/>).</summary>
    private void RetireRunUnsynchronized(RunRecord run, AgentGate? gate)
    {
        run.Retire();
        if (gate is not null && run.SessionId is null && run.RunId is null
            && (gate.FreeRunCount == 0 || (gate.FreeRunCount < gate.Limit && _pooledRuns < MaxPooledRuns)))
        {
            _pooledRuns += gate.FreeRunCount > 0 ? 1 : 0;
            run.NextFree = gate.FreeRuns;
            gate.FreeRuns = run;
            gate.FreeRunCount++;
        }

        Debug.Assert(_activeRuns >= 0, "Active runs never go negative.");
    }

    /// <summary>A record for a new run: the gate's own retired one if the run has no ids and the gate keeps one, else a new one.</summary>
    private RunRecord RentRunUnsynchronized(AgentGate? gate, string? sessionId, string? runId)
    {
        if (sessionId is not null || runId is not null || gate?.FreeRuns is not { } run)
        {
            return new RunRecord(this, gate?.AgentId ?? string.Empty, sessionId, runId);
        }

        gate.FreeRuns = run.NextFree;
        gate.FreeRunCount--;
        _pooledRuns -= gate.FreeRunCount > 0 ? 1 : 0;
        run.NextFree = null;
        return run;
    }

    /// <summary>
    /// Brings everything kept about a gate in step after its active count, limit or queue changed: the count of waiters
    /// at open gates, the limit transition to settle, the idle list, and the numbers status readers copy. Every such
    /// change ends here, so none of them can be left out of one of these.
    /// </summary>
    private void GateChangedUnsynchronized(AgentGate gate)
    {
        var openWaiters = gate.OpenWaiters;
        _waitersAtOpenGates += openWaiters - gate.CountedOpenWaiters;
        gate.CountedOpenWaiters = openWaiters;
        TouchUnsynchronized(gate);
        UpdateIdleUnsynchronized(gate);
        _gateList.Update(gate);
    }

    /// <summary>
    /// Keeps the idle list in step with a gate that changed. A gate that turns busy stays listed (the sweep unlinks it when
    /// it reaches the head), so the uncontended acquire writes no links; a gate that turns idle goes to the tail with the
    /// current tick, which keeps the idle gates in the order they went idle.
    /// </summary>
    private void UpdateIdleUnsynchronized(AgentGate gate)
    {
        if (!gate.IsIdle)
        {
            gate.IdleListed = false;
            return;
        }

        if (gate.IdleListed)
        {
            return;
        }

        _idleGates.MoveToTail(gate, _sweepTick);
    }
}
