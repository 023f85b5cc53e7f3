using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Globalization;
using AgentConcurrency.Internal;
using AgentConcurrency.Redis.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace AgentConcurrency.Redis;

/// <summary>
/// The <see cref="IAgentConcurrencyLimiter"/> contract across many processes: every instance that shares a Redis and a
/// <see cref="RedisConcurrencyOptions.KeyPrefix"/> shares one set of counts (agents, sessions, runs, sources) and one
/// queue, served in priority then arrival order across all of them.
/// </summary>
/// <remarks>
/// <para>
/// Every change of counts is one Lua script, so a grant takes all the limits it needs at once, as in process. A release
/// grants the waiters the serving order names, in the same script, and wakes their processes through pub/sub.
/// </para>
/// <para>
/// Each instance holds its slots and queue places under a lease it renews every third of
/// <see cref="RedisConcurrencyOptions.LeaseTtl"/>. When a process dies, its lease expires and the others free what it
/// held. A slot whose lease was lost, or whose run was ended elsewhere, cancels its <see cref="AgentSlot.LostToken"/>.
/// </para>
/// <para>
/// When Redis cannot be reached, acquiring throws <see cref="ConcurrencyStoreUnavailableException"/> at once. The
/// synchronous members (<see cref="TryAcquire"/>, the session and run slot calls, <see cref="GetStatus"/>) make one round
/// trip to Redis. <see cref="AgentSlot.Dispose"/> sends the release without waiting for it;
/// <see cref="AgentSlot.DisposeAsync"/> waits until Redis has taken the run back. Adaptive limits are not supported.
/// </para>
/// </remarks>
public sealed class RedisAgentConcurrencyLimiter : IAgentConcurrencyLimiter, IDisposable, IAsyncDisposable
{
    private readonly RedisStore _store;
    private readonly bool _ownsConnection;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly LimiterTelemetry _telemetry;
    private readonly TimeSpan _leaseTtl;
    private readonly TimeSpan _safetyPollInterval;
    private readonly IReadOnlyList<AgentDef> _knownAgents;
    private readonly ConcurrentDictionary<string, RedisWaiter> _waiters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Key, string Grant), HeldRun> _runs = new();

    // Releases and queue exits whose command may not have reached Redis: retried after the next heartbeat that does, so
    // that a dropped connection leaks no permit. Each is idempotent (a release names the grant it ends).
    private readonly ConcurrentQueue<(RedisScript Script, string First, string Second)> _deferred = new();
    private readonly SemaphoreSlim _heartbeatSync = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _heartbeats;
    private LimiterSettings _settings;
    private Task? _subscription;
    private long _requests;
    private long _generation;
    private long _renewedTimestamp;
    private ConcurrencyStatus? _finalStatus;
    private int _disposed;
    private IDisposable? _optionsSubscription;

    /// <summary>Creates a limiter on a connection the caller owns (and disposes after the limiter).</summary>
    /// <param name="connection">The Redis connection.</param>
    /// <param name="options">The limits; the same on every instance that shares the key prefix. <see langword="null"/> for the defaults.</param>
    /// <param name="redisOptions">The key prefix and lease; <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for queue timeouts, wait times and the lease's heartbeat; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="loggerFactory">Where requests, and lease and connection trouble, are logged; nowhere when null.</param>
    /// <param name="meterFactory">
    /// Creates the <c>AgentConcurrency</c> meter; a meter of the limiter's own when null. This process's requests and slots
    /// are measured, as the in-process limiter measures its own: summed over the processes, they are the shared totals.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> is null.</exception>
    /// <exception cref="ArgumentException">An option breaks its rule, or <see cref="AgentConcurrencyOptions.AdaptiveLimits"/> is set; the message names it.</exception>
    public RedisAgentConcurrencyLimiter(
        IConnectionMultiplexer connection,
        AgentConcurrencyOptions? options = null,
        RedisConcurrencyOptions? redisOptions = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
        : this(connection, ownsConnection: false, options, redisOptions, timeProvider, loggerFactory, meterFactory, knownAgents: [])
    {
    }

    internal RedisAgentConcurrencyLimiter(
        IConnectionMultiplexer connection,
        bool ownsConnection,
        AgentConcurrencyOptions? options,
        RedisConcurrencyOptions? redisOptions,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        IMeterFactory? meterFactory,
        IEnumerable<AgentDef> knownAgents)
    {
        ArgumentNullException.ThrowIfNull(connection);
        redisOptions ??= new RedisConcurrencyOptions();
        redisOptions.ThrowIfInvalid();
        _settings = SettingsFrom(options ?? new AgentConcurrencyOptions());
        var agents = knownAgents.ToList();
        foreach (var agent in agents)
        {
            AgentDefRules.ThrowIfInvalid(agent, nameof(knownAgents));
        }

        _knownAgents = agents;
        _leaseTtl = redisOptions.LeaseTtl;
        _safetyPollInterval = redisOptions.SafetyPollInterval;
        _store = new RedisStore(connection, redisOptions.KeyPrefix, Guid.NewGuid().ToString("N"), _leaseTtl);
        _ownsConnection = ownsConnection;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = loggerFactory?.CreateLogger<RedisAgentConcurrencyLimiter>() ?? NullLogger<RedisAgentConcurrencyLimiter>.Instance;
        _telemetry = new LimiterTelemetry(loggerFactory, meterFactory, _timeProvider);
        _heartbeats = Task.Run(BeatUntilStoppedAsync);
    }

    private LimiterSettings Settings => Volatile.Read(ref _settings);

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc/>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached, or the lease holding the request's queue place lapsed.</exception>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, CancellationToken cancellationToken = default) =>
        AcquireAsync(agent, AcquireOptions.Default, cancellationToken);

    /// <inheritdoc/>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached, or the lease holding the request's queue place lapsed.</exception>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, AcquireOptions options, CancellationToken cancellationToken = default)
    {
        AcquireRequestRules.ThrowIfInvalid(agent, options);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            _telemetry.CanceledAtOnce(agent.Id);
            return ValueTask.FromCanceled<AgentSlot>(cancellationToken);
        }

        return new ValueTask<AgentSlot>(AcquireCoreAsync(agent, options, cancellationToken));
    }

    /// <inheritdoc/>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached.</exception>
    public bool TryAcquire(AgentDef agent, AcquireOptions? options, out AgentSlot slot)
    {
        options ??= AcquireOptions.Default;
        AcquireRequestRules.ThrowIfInvalid(agent, options);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var settings = Settings;
        var id = NextId();
        var reply = RunGrantingScript(
            () => _store.Run(RedisScript.Acquire, settings, AcquireArguments(agent, options, settings, id, "try", timeout: null)), id, options.RunId);
        ThrowIfDisposedMeanwhile();
        if ((string?)reply[0] == "conflict")
        {
            throw new ArgumentException((string?)reply[1], nameof(options));
        }

        if ((string?)reply[0] == "granted")
        {
            _telemetry.Acquired(agent.Id);
            slot = Hold(agent.Id, reply, options, TimeSpan.Zero);
            return true;
        }

        _telemetry.RefusedAtOnce(agent.Id, (ConcurrencyErrorCode)(int)reply[1]);
        slot = default;
        return false;
    }

    /// <inheritdoc/>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached.</exception>
    public SlotResult TryAcquireSessionSlot(string sessionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var reply = _store.Run(RedisScript.PinSession, Settings, sessionId);
        return (string?)reply[0] == "ok" ? SlotResult.Success : SlotResult.Failed((ConcurrencyErrorCode)(int)reply[1]);
    }

    /// <inheritdoc/>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached.</exception>
    public SlotResult TryAcquireRunSlot(string sessionId, string runId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var id = NextId();
        var reply = RunGrantingScript(() => _store.Run(RedisScript.StartRun, Settings, sessionId, runId, id), id, runId);
        ThrowIfDisposedMeanwhile();
        return (string?)reply[0] switch
        {
            "ok" => SlotResult.Success,
            "conflict" => throw new ArgumentException((string?)reply[1], nameof(runId)),
            _ => SlotResult.Failed((ConcurrencyErrorCode)(int)reply[1]),
        };
    }

    /// <inheritdoc/>
    /// <remarks>Every process's slots of the run stop being held, and cancel their <see cref="AgentSlot.LostToken"/>.</remarks>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached; nothing was released.</exception>
    public void ReleaseRunSlot(string runId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        if (IsDisposed)
        {
            return;
        }

        var reply = _store.Run(RedisScript.Release, Settings, "r:" + runId, string.Empty);
        if ((int)reply[0] == 1)
        {
            // Only the grant it ended: a new run of the same id may have been granted here since.
            LoseLocally("r:" + runId, (string)reply[1]!);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Every process's slots of the session's runs stop being held, and cancel their <see cref="AgentSlot.LostToken"/>.</remarks>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached; nothing was released.</exception>
    public void ReleaseSessionSlot(string sessionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        if (IsDisposed)
        {
            return;
        }

        var ended = _store.Run(RedisScript.EndSession, Settings, sessionId);
        for (var i = 0; i + 1 < ended.Length; i += 2)
        {
            LoseLocally((string)ended[i]!, (string)ended[i + 1]!);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The counts and queue of every instance that shares the key prefix; the agents listed are those with an active run
    /// or a queued request anywhere, and the agents registered with this instance. After disposal, the status read when
    /// the limiter was disposed if its own connection is closed.
    /// </remarks>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis could not be reached.</exception>
    public ConcurrencyStatus GetStatus()
    {
        if (Volatile.Read(ref _finalStatus) is { } final)
        {
            return final;
        }

        var settings = Settings;
        return RedisStatusReader.Read(_store.Run(RedisScript.Status, settings), settings, _knownAgents);
    }

    /// <summary>
    /// Puts new limits in force for this instance's requests and the grants its releases make. Instances that share the
    /// key prefix should be given the same limits; see the README on what happens when they differ.
    /// </summary>
    /// <param name="options">The new limits.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option breaks its rule, or adaptive limits are set; the limits in force stay.</exception>
    public void UpdateOptions(AgentConcurrencyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Volatile.Write(ref _settings, SettingsFrom(options));
    }

    /// <summary>
    /// Gives back everything this instance holds in Redis at once (rather than when its lease expires), fails its waiting
    /// requests with <see cref="ObjectDisposedException"/>, and cancels the <see cref="AgentSlot.LostToken"/> of its slots.
    /// Closes the connection only if the limiter opened it.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    /// <returns>A task that completes when the slots were given back (or Redis could not be reached).</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _optionsSubscription, null)?.Dispose();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _heartbeats.ConfigureAwait(false);
        await RetireAsync().ConfigureAwait(false);
        if (_ownsConnection)
        {
            try
            {
                // Read once more so that GetStatus keeps working after the connection is gone.
                Volatile.Write(ref _finalStatus, GetStatus());
            }
            catch (ConcurrencyStoreUnavailableException)
            {
                // Then GetStatus throws it after disposal too.
            }
        }

        foreach (var waiter in _waiters.Values)
        {
            waiter.TryFail(new ObjectDisposedException(GetType().FullName));
        }

        foreach (var run in _runs.Values)
        {
            LoseLocally(run.Key, run.Grant);
        }

        if (_subscription is not null)
        {
            try
            {
                await _store.Connection.GetSubscriber().UnsubscribeAsync(_store.WakeChannel).ConfigureAwait(false);
            }
            catch (Exception failure) when (RedisStore.IsUnreachable(failure))
            {
                // The connection is going, or gone: so is the subscription.
            }
        }

        if (_ownsConnection)
        {
            await _store.Connection.DisposeAsync().ConfigureAwait(false);
        }

        _heartbeatSync.Dispose();
        _stopping.Dispose();
        _telemetry.Dispose();
    }

    /// <summary>Releases a run a slot of this process held; the slot already reads as released.</summary>
    internal void ReleaseInBackground(HeldRun run) => _ = ReleaseAsync(run).AsTask();

    /// <summary>Releases a run a slot of this process held; never throws (a release that cannot reach Redis is retried later).</summary>
    internal async ValueTask ReleaseAsync(HeldRun run)
    {
        _runs.TryRemove(new KeyValuePair<(string, string), HeldRun>((run.Key, run.Grant), run));
        if (!IsDisposed)
        {
            await ReleaseQuietlyAsync(run.Key, run.Grant).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether Redis answers, and how long ago this instance last renewed its lease: the health check's reading.
    /// </summary>
    internal async Task<(bool Reachable, TimeSpan SinceRenewal, Exception? Failure)> CheckAsync()
    {
        var renewed = Volatile.Read(ref _renewedTimestamp);
        var sinceRenewal = renewed == 0 ? TimeSpan.MaxValue : _timeProvider.GetElapsedTime(renewed);
        try
        {
            await _store.Connection.GetDatabase().PingAsync().ConfigureAwait(false);
            return (true, sinceRenewal, null);
        }
        catch (Exception failure) when (RedisStore.IsUnreachable(failure))
        {
            return (false, sinceRenewal, failure);
        }
    }

    /// <summary>The id this instance holds its lease and everything it was granted under (the tests end a lease by it).</summary>
    internal string OwnerId => _store.Owner;

    /// <summary>The lease TTL: a renewal older than this means the slots may already be lost.</summary>
    internal TimeSpan LeaseTtl => _leaseTtl;

    /// <summary>Follows options reloads of the hosting container until disposal.</summary>
    internal void OwnOptionsSubscription(IDisposable subscription) => _optionsSubscription = subscription;

    /// <summary>Logs options a host tried to apply and that were refused.</summary>
    internal void ReportRefusedOptions(string reason) => RedisLimiterLog.OptionsRefused(_logger, reason);

    /// <summary>Runs one heartbeat now: the tests use it to take effect of an expired lease without waiting a period.</summary>
    internal Task BeatAsync() => BeatCoreAsync();

    /// <summary>
    /// Disposal handed everything back while a call was at Redis, and the call's own script then renewed the lease and
    /// took something: hand that back too, so that nothing outlives the limiter, and fail the call as disposal does.
    /// </summary>
    private void ThrowIfDisposedMeanwhile()
    {
        if (IsDisposed)
        {
            RetireAsync().GetAwaiter().GetResult();
            throw new ObjectDisposedException(GetType().FullName);
        }
    }

    private static LimiterSettings SettingsFrom(AgentConcurrencyOptions options)
    {
        if (options.AdaptiveLimits.Count > 0)
        {
            throw new ArgumentException(
                "AgentConcurrencyOptions.AdaptiveLimits is not supported by the Redis-backed limiter: each process would learn its own limit for a shared count. Use static limits.",
                nameof(options));
        }

        return LimiterSettings.From(options);
    }

    private async Task<AgentSlot> AcquireCoreAsync(AgentDef agent, AcquireOptions options, CancellationToken cancellationToken)
    {
        var settings = Settings;
        var timeout = options.QueueTimeout ?? settings.QueueTimeout;
        var mode = settings.WhenFull == QueueFullMode.Reject ? "reject" : "wait";
        if (mode == "wait")
        {
            // Before the request can be queued, so that no wake-up for it can go unheard.
            await EnsureSubscribedAsync().ConfigureAwait(false);
        }

        var id = NextId();
        var waiter = new RedisWaiter(id, agent, options, _timeProvider.GetTimestamp());

        // Known before its queue place exists: a heartbeat takes a queue place no local request knows for an orphan.
        _waiters[id] = waiter;
        try
        {
            var reply = await RunGrantingScriptAsync(
                () => _store.RunAsync(RedisScript.Acquire, settings, AcquireArguments(agent, options, settings, id, mode, timeout)), id, options.RunId)
                .ConfigureAwait(false);
            if (IsDisposed)
            {
                // Disposal handed everything back before this grant or queue place was made: it must not outlive the limiter.
                await RetireAsync().ConfigureAwait(false);
                throw new ObjectDisposedException(GetType().FullName);
            }

            switch ((string?)reply[0])
            {
                case "granted":
                    _telemetry.Acquired(agent.Id);
                    return Hold(agent.Id, reply, options, TimeSpan.Zero);
                case "refused":
                    var code = (ConcurrencyErrorCode)(int)reply[1];
                    _telemetry.RefusedAtOnce(agent.Id, code);
                    throw new ConcurrencyLimitExceededException(code, agent.Id);
                case "conflict":
                    throw new ArgumentException((string?)reply[1], nameof(options));
            }

            waiter.MarkQueued(Volatile.Read(ref _generation));
            var position = (int)reply[1];
            var wait = _telemetry.Queued(agent.Id, position);
            try
            {
                var slot = await WaitAsync(waiter, position, timeout, cancellationToken).ConfigureAwait(false);
                _telemetry.WaitEnded(agent.Id, wait, slot.WaitTime, RequestResult.Acquired, errorCode: null);
                return slot;
            }
            catch (Exception failure)
            {
                _telemetry.WaitEnded(agent.Id, wait, _timeProvider.GetElapsedTime(waiter.EnqueuedTimestamp), failure);
                throw;
            }
        }
        finally
        {
            _waiters.TryRemove(id, out _);
            await waiter.Cancellation.DisposeAsync().ConfigureAwait(false);
            waiter.Timer?.Dispose();
        }
    }

    private async Task<AgentSlot> WaitAsync(RedisWaiter waiter, int position, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        // Started before the callback, as in process: the timeout counts from when the request was queued.
        if (!TimeoutRules.IsInfinite(timeout))
        {
            waiter.Timer = _timeProvider.CreateTimer(
                static state =>
                {
                    var (limiter, waiter) = ((RedisAgentConcurrencyLimiter, RedisWaiter))state!;
                    _ = limiter.GiveUpAsync(
                        waiter, new ConcurrencyLimitExceededException(ConcurrencyErrorCode.QueueTimeout, waiter.Agent.Id), keepGrant: true);
                },
                (this, waiter),
                timeout!.Value,
                Timeout.InfiniteTimeSpan);
        }

        if (waiter.Options.OnQueued is { } onQueued)
        {
            try
            {
                onQueued(new QueuedRequest(
                    waiter.Agent.Id, position, waiter.Options.SessionId, waiter.Options.RunId, waiter.Options.Source, waiter.Options.Priority,
                    _timeProvider.GetUtcNow()));
            }
            catch (Exception callbackFailure)
            {
                await GiveUpAsync(waiter, callbackFailure, keepGrant: false).ConfigureAwait(false);

                // A timeout may have been leaving the queue meanwhile, and kept a grant: the callback's failure is what the
                // caller sees, and a grant that arrives later goes back when it finds the request failed.
                if (!waiter.TryFail(callbackFailure) && waiter.Outcome.IsCompletedSuccessfully && !waiter.Joined)
                {
                    // Granted while the callback ran: the slot goes back, unused (a joined run is someone else's).
                    await waiter.Outcome.Result.DisposeAsync().ConfigureAwait(false);
                }

                throw;
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Cancellation = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var (limiter, waiter) = ((RedisAgentConcurrencyLimiter, RedisWaiter))state!;
                    _ = limiter.GiveUpAsync(waiter, new OperationCanceledException(token), keepGrant: false);
                },
                (this, waiter));
        }

        return await waiter.Outcome.ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a waiter out of the queue and fails it with <paramref name="reason"/>, unless its outcome was decided first:
    /// a failure decided in Redis wins, and so does a grant when <paramref name="keepGrant"/> (a timeout, as in process);
    /// otherwise a grant made meanwhile goes back. Never throws: it runs from callbacks.
    /// </summary>
    private async Task GiveUpAsync(RedisWaiter waiter, Exception reason, bool keepGrant)
    {
        if (!waiter.StartLeaving())
        {
            return;
        }

        var decided = false;
        try
        {
            var reply = await _store.RunAsync(RedisScript.LeaveQueue, Settings, waiter.Id, keepGrant ? "1" : "0").ConfigureAwait(false);
            decided = await CompleteAsync(waiter, reply).ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException failure) when (failure.InnerException is not null)
        {
            // The exit may have run, and taken a grant, without its reply coming back: undo whatever it was.
            DeferUndo(waiter.Id, waiter.Options.RunId, failure);
        }
        catch (ConcurrencyStoreUnavailableException failure)
        {
            Defer(RedisScript.LeaveQueue, waiter.Id, "0", failure);
        }
        finally
        {
            // Whatever happened above, the caller is answered.
            if (!decided && reason is OperationCanceledException canceled)
            {
                waiter.TryCancel(canceled.CancellationToken);
            }
            else if (!decided)
            {
                waiter.TryFail(reason);
            }
        }
    }

    /// <summary>Collects the outcome Redis recorded for one of this process's waiters, and completes the waiter with it.</summary>
    private async Task ClaimAsync(string id)
    {
        _waiters.TryGetValue(id, out var waiter);
        if (waiter is not null)
        {
            Interlocked.Increment(ref waiter.ClaimsInFlight);
        }

        try
        {
            var reply = await _store.RunAsync(RedisScript.Claim, Settings, id).ConfigureAwait(false);
            await CompleteAsync(waiter, reply).ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException failure) when (failure.InnerException is not null)
        {
            // The claim may have taken the outcome without its reply coming back: undo whatever it was.
            DeferUndo(id, waiter?.Options.RunId, failure);
            waiter?.TryFail(failure);
        }
        finally
        {
            if (waiter is not null)
            {
                Interlocked.Decrement(ref waiter.ClaimsInFlight);
            }
        }
    }

    /// <summary>
    /// Completes a waiter with an outcome taken from Redis (claim.lua or leave-queue.lua); a grant nobody here can take any
    /// more goes back, unless it joined someone else's run. Returns whether the reply carried an outcome.
    /// </summary>
    [SuppressMessage("Usage", "CA2208:Instantiate argument exceptions correctly", Justification = "The waiter's caller passed the run id in its 'options' argument.")]
    private async Task<bool> CompleteAsync(RedisWaiter? waiter, RedisResult[] reply)
    {
        switch ((string?)reply[0])
        {
            case "granted":
                var joined = (int)reply[3] == 1;
                if (waiter is null)
                {
                    if (!joined)
                    {
                        await ReleaseQuietlyAsync((string)reply[1]!, (string)reply[2]!).ConfigureAwait(false);
                    }

                    return true;
                }

                waiter.MarkJoined(joined);
                var slot = Hold(waiter.Agent.Id, reply, waiter.Options, _timeProvider.GetElapsedTime(waiter.EnqueuedTimestamp));
                if (!waiter.TryGrant(slot) && !joined)
                {
                    // Completed otherwise first (cancelled, disposed): the grant was never handed to the caller.
                    await slot.DisposeAsync().ConfigureAwait(false);
                }

                return true;
            case "failed":
                var code = (int)reply[1];
                waiter?.TryFail(code >= 0
                    ? new ConcurrencyLimitExceededException((ConcurrencyErrorCode)code, waiter.Agent.Id)
                    : new ArgumentException((string?)reply[2], "options"));
                return true;
            default:
                return false;
        }
    }

    private async Task ClaimQuietlyAsync(string id)
    {
        try
        {
            await ClaimAsync(id).ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException)
        {
            // The outcome stays in Redis (the next heartbeat names it again), or the claim was undone.
        }
#pragma warning disable CA1031 // It runs from a pub/sub callback: nobody would observe the exception, so it is logged.
        catch (Exception failure)
#pragma warning restore CA1031
        {
            RedisLimiterLog.ClaimFailed(_logger, failure, id);
        }
    }

    private Task EnsureSubscribedAsync()
    {
        // One subscription for the instance, shared by every request; only a failed attempt is tried again.
        var subscription = Volatile.Read(ref _subscription);
        if (subscription is null || subscription.IsFaulted || subscription.IsCanceled)
        {
            var attempt = _store.Connection.GetSubscriber().SubscribeAsync(
                _store.WakeChannel, (channel, id) => _ = ClaimQuietlyAsync(id.ToString()));
            subscription = Interlocked.CompareExchange(ref _subscription, attempt, subscription) == subscription ? attempt : Volatile.Read(ref _subscription)!;
        }

        return WrapSubscriptionFailure(subscription);
    }

    private static async Task WrapSubscriptionFailure(Task subscription)
    {
        try
        {
            await subscription.ConfigureAwait(false);
        }
        catch (Exception failure) when (RedisStore.IsUnreachable(failure))
        {
            throw new ConcurrencyStoreUnavailableException($"Redis could not be reached: {failure.Message}", failure);
        }
    }

    private async Task BeatUntilStoppedAsync()
    {
        var stopping = _stopping.Token;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                await BeatQuietlyAsync().ConfigureAwait(false);

                // Waiters poll faster, in case a wake-up message was lost; the lease alone needs a third of its TTL.
                var period = _waiters.IsEmpty || _safetyPollInterval > _leaseTtl / 3 ? _leaseTtl / 3 : _safetyPollInterval;
                await Task.Delay(period, _timeProvider, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposal.
        }
    }

    private async Task BeatQuietlyAsync()
    {
        try
        {
            await BeatCoreAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The heartbeat must outlive any one failure: a loop that stopped would let every lease lapse.
        catch (Exception failure)
#pragma warning restore CA1031
        {
            RedisLimiterLog.HeartbeatFailed(_logger, failure, _leaseTtl);
            var renewed = Volatile.Read(ref _renewedTimestamp);
            if (renewed != 0 && _timeProvider.GetElapsedTime(renewed) >= _leaseTtl)
            {
                LoseEverythingUnreachable();
            }
        }
    }

    private async Task BeatCoreAsync()
    {
        await _heartbeatSync.WaitAsync().ConfigureAwait(false);
        try
        {
            // A queue place confirmed before this generation was made before this heartbeat ran in Redis.
            var generation = Interlocked.Increment(ref _generation);
            var held = _runs.Keys.ToArray();
            var args = new RedisValue[held.Length * 2];
            for (var i = 0; i < held.Length; i++)
            {
                args[2 * i] = held[i].Key;
                args[(2 * i) + 1] = held[i].Grant;
            }

            var sent = _timeProvider.GetTimestamp();
            var reply = await _store.RunAsync(RedisScript.Heartbeat, Settings, args).ConfigureAwait(false);
            Volatile.Write(ref _renewedTimestamp, sent);
            var lostRuns = LoseRunsNoLongerHeld((RedisResult[])reply[1]!);
            var lostWaiters = await SettleWaitersAsync((RedisResult[])reply[2]!, (RedisResult[])reply[3]!, generation).ConfigureAwait(false);
            if ((int)reply[0] == 1 && lostRuns + lostWaiters > 0)
            {
                RedisLimiterLog.LeaseLost(_logger, lostRuns, lostWaiters);
            }
            else if (lostRuns > 0)
            {
                RedisLimiterLog.RunsEndedElsewhere(_logger, lostRuns);
            }

            await RunDeferredAsync().ConfigureAwait(false);
        }
        finally
        {
            _heartbeatSync.Release();
        }
    }

    private int LoseRunsNoLongerHeld(RedisResult[] gone)
    {
        var lost = 0;
        for (var i = 0; i + 1 < gone.Length; i += 2)
        {
            if (_runs.TryRemove(((string)gone[i]!, (string)gone[i + 1]!), out var run) && run.MarkLost())
            {
                lost++;
            }
        }

        return lost;
    }

    /// <summary>Claims the outcomes Redis holds for this process, and fails the queued waiters whose queue place is gone.</summary>
    private async Task<int> SettleWaitersAsync(RedisResult[] settled, RedisResult[] waiting, long generation)
    {
        foreach (var id in settled)
        {
            await ClaimQuietlyAsync((string)id!).ConfigureAwait(false);
        }

        var inRedis = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in waiting)
        {
            var waiterId = (string)id!;
            inRedis.Add(waiterId);
            if (!_waiters.ContainsKey(waiterId))
            {
                // A queue place no request here knows (its acquire failed after Redis ran it): it goes.
                await _store.RunAsync(RedisScript.LeaveQueue, Settings, waiterId, "0").ConfigureAwait(false);
            }
        }

        var lost = 0;
        foreach (var id in settled)
        {
            inRedis.Add((string)id!);
        }

        foreach (var waiter in _waiters.Values)
        {
            if (waiter.Queued && waiter.QueuedGeneration < generation && !waiter.Leaving && Volatile.Read(ref waiter.ClaimsInFlight) == 0 && !inRedis.Contains(waiter.Id)
                && waiter.TryFail(new ConcurrencyStoreUnavailableException("The limiter's lease in Redis lapsed while the request waited; its queue place was lost.")))
            {
                lost++;
            }
        }

        return lost;
    }

    /// <summary>
    /// Redis has been out of reach for a whole lease: every slot may already have been given to another process. Tell the
    /// holders and the waiters now, and give back whatever is still there once Redis answers again.
    /// </summary>
    private void LoseEverythingUnreachable()
    {
        var runs = 0;
        foreach (var run in _runs.Values)
        {
            if (_runs.TryRemove(new KeyValuePair<(string, string), HeldRun>((run.Key, run.Grant), run)) && run.MarkLost())
            {
                _deferred.Enqueue((RedisScript.Release, run.Key, run.Grant));
                runs++;
            }
        }

        var waiters = 0;
        foreach (var waiter in _waiters.Values)
        {
            if (waiter.Queued && waiter.TryFail(new ConcurrencyStoreUnavailableException("Redis could not be reached for a whole lease while the request waited.")))
            {
                _deferred.Enqueue((RedisScript.LeaveQueue, waiter.Id, "0"));
                waiters++;
            }
        }

        if (runs + waiters > 0)
        {
            RedisLimiterLog.LeaseLost(_logger, runs, waiters);
        }
    }

    /// <summary>The run with this grant ended without a slot of this process releasing it: its slots here say so.</summary>
    private void LoseLocally(string key, string grant)
    {
        if (_runs.TryRemove((key, grant), out var run))
        {
            run.MarkLost();
        }
    }

    private async Task ReleaseQuietlyAsync(string key, string grant)
    {
        try
        {
            await _store.RunAsync(RedisScript.Release, Settings, key, grant).ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException failure)
        {
            Defer(RedisScript.Release, key, grant, failure);
        }
    }

    /// <summary>Hands back everything this instance holds in Redis, and its lease; if Redis is away, the lease expires instead.</summary>
    private async Task RetireAsync()
    {
        try
        {
            await _store.RunAsync(RedisScript.Retire, Settings).ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException failure)
        {
            RedisLimiterLog.RetireFailed(_logger, failure);
        }
    }

    private void Defer(RedisScript script, string first, string second, Exception failure)
    {
        _deferred.Enqueue((script, first, second));
        RedisLimiterLog.CleanupDeferred(_logger, failure);
    }

    private async Task RunDeferredAsync()
    {
        var count = _deferred.Count;
        while (count-- > 0 && _deferred.TryDequeue(out var deferred))
        {
            if (deferred.Script == RedisScript.Release && _runs.ContainsKey((deferred.First, deferred.Second)))
            {
                // The grant reached its caller after all (another claim of it succeeded): it is a slot, not debris.
                continue;
            }

            try
            {
                await _store.RunAsync(deferred.Script, Settings, deferred.First, deferred.Second).ConfigureAwait(false);
            }
            catch (ConcurrencyStoreUnavailableException)
            {
                _deferred.Enqueue(deferred);
                return;
            }
        }
    }

    /// <summary>
    /// Runs a script that may grant or queue under <paramref name="id"/>. If the command or its reply was lost, Redis may
    /// have done either: both are undone once Redis answers again, so nothing is held that nobody knows of.
    /// </summary>
    private RedisResult[] RunGrantingScript(Func<RedisResult[]> run, string id, string? runId)
    {
        try
        {
            return run();
        }
        catch (ConcurrencyStoreUnavailableException failure) when (failure.InnerException is not null)
        {
            DeferUndo(id, runId, failure);
            throw;
        }
    }

    private async Task<RedisResult[]> RunGrantingScriptAsync(Func<Task<RedisResult[]>> run, string id, string? runId)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (ConcurrencyStoreUnavailableException failure) when (failure.InnerException is not null)
        {
            DeferUndo(id, runId, failure);
            throw;
        }
    }

    private void DeferUndo(string id, string? runId, Exception failure)
    {
        Defer(RedisScript.LeaveQueue, id, "0", failure);
        Defer(RedisScript.Release, "a:" + id, id, failure);
        if (runId is not null)
        {
            Defer(RedisScript.Release, "r:" + runId, id, failure);
        }
    }

    private AgentSlot Hold(string agentId, RedisResult[] grant, AcquireOptions options, TimeSpan waitTime)
    {
        var key = (string)grant[1]!;
        var grantId = (string)grant[2]!;
        var joined = (int)grant[3] == 1;
        var session = (string?)grant[4] is { Length: > 0 } runSession ? runSession : null;
        var run = new HeldRun(this, agentId, session, options.RunId, key, grantId);
        if (!joined)
        {
            // Measured as the in-process limiter measures a run: by the process that started it, once. Counted before it
            // is published in _runs, so that a loss racing this grant ends what was started. A new grant's id is unique,
            // so nothing else can hold its place.
            run.Counted = _telemetry.CountsSlots;
            run.StartedTimestamp = _telemetry.TimesSlots ? _timeProvider.GetTimestamp() : 0;
            if (run.Counted)
            {
                _telemetry.Publish(new GateEvent(GateEventKind.RunStarted, agentId, 0, Active: 1, Limit: 0));
            }
        }

        // Slots of one run in this process share its state; the one already here may be going as this one arrives.
        while (!_runs.TryAdd((key, grantId), run))
        {
            if (_runs.TryGetValue((key, grantId), out var existing))
            {
                run = existing;
                break;
            }
        }

        return new AgentSlot(run, version: 0, waitTime);
    }

    /// <summary>A run this process started ended (released, or lost): its slot stops counting, and its time is recorded.</summary>
    internal void RunEnded(HeldRun run)
    {
        if (run.Counted || run.StartedTimestamp != 0)
        {
            _telemetry.Publish(new GateEvent(GateEventKind.RunEnded, run.AgentId, run.StartedTimestamp, Active: run.Counted ? 1 : 0, Limit: 0));
        }
    }

    private string NextId() => _store.Owner + ":" + Interlocked.Increment(ref _requests).ToString("x", CultureInfo.InvariantCulture);

    private RedisValue[] AcquireArguments(AgentDef agent, AcquireOptions options, LimiterSettings settings, string id, string mode, TimeSpan? timeout) =>
    [
        agent.Id,
        settings.LimitFor(agent.Id, agent.MaxConcurrency),
        options.SessionId ?? string.Empty,
        options.RunId ?? string.Empty,
        options.Source ?? string.Empty,
        id,
        mode,
        settings.QueueLimit ?? -1,
        timeout == TimeSpan.Zero ? "1" : "0",
        RedisStore.PriorityKey(options.Priority),
        options.Priority,
        _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(),
    ];
}
