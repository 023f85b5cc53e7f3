using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using AgentConcurrency.Internal;
using Microsoft.Extensions.Logging;

namespace AgentConcurrency;

/// <summary>
/// The in-process limiter: one gate per agent id, global session and run slots, per-source limits, and one queue
/// served by priority, then arrival. Thread-safe.
/// </summary>
/// <remarks>
/// Every request takes all the limits it needs at once or none: a waiter never holds part of what it needs, so waiters
/// cannot deadlock one another. See the README's behaviour table for the full contract.
/// </remarks>
public sealed class AgentConcurrencyLimiter : IAgentConcurrencyLimiter, IDisposable, IAsyncDisposable
{
    private readonly LimiterTelemetry _telemetry;
    private readonly LimiterState _state;
    private IDisposable? _optionsSubscription;

    /// <summary>Creates a limiter.</summary>
    /// <param name="options">The limits; copied and validated now. <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for queue timeouts, wait times and idle cleanup; <see langword="null"/> for <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names every invalid one.</exception>
    public AgentConcurrencyLimiter(AgentConcurrencyOptions? options = null, TimeProvider? timeProvider = null)
        : this(options, timeProvider, loggerFactory: null, meterFactory: null)
    {
    }

    /// <summary>Creates a limiter that logs and reports metrics.</summary>
    /// <param name="options">The limits; copied and validated now. <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for queue timeouts, wait times and idle cleanup; <see langword="null"/> for <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">Where the limiter's log events go; <see langword="null"/> for none.</param>
    /// <param name="meterFactory">Creates the <c>AgentConcurrency</c> meter; <see langword="null"/> for a meter of the limiter's own, disposed with it.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names every invalid one.</exception>
    public AgentConcurrencyLimiter(
        AgentConcurrencyOptions? options, TimeProvider? timeProvider, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
        : this(options, timeProvider, loggerFactory, meterFactory, knownAgents: [])
    {
    }

    /// <summary>Creates a limiter that knows <paramref name="knownAgents"/> from the start, for the hosting integration.</summary>
    internal AgentConcurrencyLimiter(
        AgentConcurrencyOptions? options,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        IMeterFactory? meterFactory,
        IEnumerable<AgentDef> knownAgents)
    {
        var settings = LimiterSettings.From(options ?? new AgentConcurrencyOptions());
        var agents = knownAgents.ToList();
        foreach (var agent in agents)
        {
            AgentDefRules.ThrowIfInvalid(agent, nameof(knownAgents));
        }

        timeProvider ??= TimeProvider.System;
        _telemetry = new LimiterTelemetry(loggerFactory, meterFactory, timeProvider);
        _state = new LimiterState(settings, timeProvider, _telemetry, agents);
    }

    /// <inheritdoc/>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, CancellationToken cancellationToken = default) =>
        AcquireAsync(agent, AcquireOptions.Default, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, AcquireOptions options, CancellationToken cancellationToken = default)
    {
        AcquireRequestRules.ThrowIfInvalid(agent, options);
        return _state.AcquireAsync(agent.Id, agent.MaxConcurrency, options, cancellationToken);
    }

    /// <inheritdoc/>
    public bool TryAcquire(AgentDef agent, AcquireOptions? options, out AgentSlot slot)
    {
        options ??= AcquireOptions.Default;
        AcquireRequestRules.ThrowIfInvalid(agent, options);
        return _state.TryAcquire(agent.Id, agent.MaxConcurrency, options, out slot, out _);
    }

    /// <inheritdoc/>
    public SlotResult TryAcquireSessionSlot(string sessionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        return _state.TryAcquireSessionSlot(sessionId);
    }

    /// <inheritdoc/>
    public SlotResult TryAcquireRunSlot(string sessionId, string runId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        return _state.TryAcquireRunSlot(sessionId, runId);
    }

    /// <inheritdoc/>
    public void ReleaseRunSlot(string runId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        _state.ReleaseRunSlot(runId);
    }

    /// <inheritdoc/>
    public void ReleaseSessionSlot(string sessionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        _state.ReleaseSessionSlot(sessionId);
    }

    /// <inheritdoc/>
    public ConcurrencyStatus GetStatus() => _state.GetStatus();

    /// <summary>
    /// Returns <paramref name="agent"/>'s gate as a <see cref="RateLimiter"/>, for code that takes one (ASP.NET Core's
    /// rate limiting, Polly's <c>AddRateLimiter</c>, <c>HttpClient</c> handlers). A permit is one slot of the agent, taken
    /// from the same gate, global limits and queue as <see cref="AcquireAsync(AgentDef, AcquireOptions, CancellationToken)"/>,
    /// so both see one set of limits.
    /// </summary>
    /// <remarks>
    /// <para>
    /// It behaves as <see cref="ConcurrencyLimiter"/> with <see cref="QueueProcessingOrder.OldestFirst"/> does, within
    /// this limiter's contract: <c>AttemptAcquire</c> never waits; <c>AcquireAsync</c> waits in the queue; zero permits
    /// succeed while a slot is free, otherwise wait (async) or fail (sync); more than one permit throws. A full queue,
    /// a queue timeout or any other refusal is a failed lease whose <see cref="MetadataName.ReasonPhrase"/> is
    /// <c>"Queue limit reached"</c> for a full queue and the <see cref="ConcurrencyErrorCode"/> name otherwise; a
    /// canceled wait throws <see cref="TaskCanceledException"/> carrying the caller's token. A zero-permit request that
    /// waits takes a place in the queue.
    /// </para>
    /// <para>
    /// Disposing the returned limiter fails the requests it has waiting with failed leases and makes its later calls throw
    /// <see cref="ObjectDisposedException"/>; it does not dispose this limiter, and leases it gave stay valid.
    /// </para>
    /// </remarks>
    /// <param name="agent">The agent whose slots the permits are.</param>
    /// <param name="options">What every request makes of the agent (session, source, priority, queue timeout); <see langword="null"/> for none. No run id: each lease is a run of its own.</param>
    /// <returns>A new adapter; create one per agent and options, and keep it as long as it is used.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="agent"/> or its id is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="agent"/> or <paramref name="options"/> is invalid, as for <see cref="AcquireAsync(AgentDef, AcquireOptions, CancellationToken)"/>, or <paramref name="options"/> sets a run id.</exception>
    public RateLimiter AsRateLimiter(AgentDef agent, AcquireOptions? options = null)
    {
        options ??= AcquireOptions.Default;
        AcquireRequestRules.ThrowIfInvalid(agent, options);
        if (options.RunId is not null)
        {
            // Every lease would join one run, and disposing any of them would end it for all: a lease must be a slot.
            throw new ArgumentException("AcquireOptions.RunId must not be set for a rate limiter: each lease is a run of its own.", nameof(options));
        }

        return new AgentRateLimiter(new AgentLeaseIssuer(_state, options), agent);
    }

    /// <summary>
    /// Returns every agent's gate as one <see cref="PartitionedRateLimiter{TResource}"/> keyed by <see cref="AgentDef"/>:
    /// one partition per agent id, served by this limiter's own gates, with the behaviour of
    /// <see cref="AsRateLimiter(AgentDef, AcquireOptions?)"/> and no options. The resource's
    /// <see cref="AgentDef.MaxConcurrency"/> is its declared limit, as for <see cref="AcquireAsync(AgentDef, CancellationToken)"/>.
    /// </summary>
    /// <remarks>
    /// Disposing it fails the requests it has waiting with failed leases and does not dispose this limiter. Its statistics
    /// count the leases it gave and refused per agent; an agent's counts start again once it has had no lease out for
    /// <see cref="AgentConcurrencyOptions.IdleAgentTimeout"/>, as a runtime partition's do when it is dropped idle.
    /// </remarks>
    /// <returns>A new adapter; <see cref="PartitionedRateLimiter{TResource}.WithTranslatedKey"/> maps other resources (an HTTP request) to agents.</returns>
    public PartitionedRateLimiter<AgentDef> AsPartitionedRateLimiter() =>
        new AgentPartitionedRateLimiter(new AgentLeaseIssuer(_state, AcquireOptions.Default));

    /// <summary>
    /// Puts new limits in force in place, without dropping anything: a raised limit admits waiters at once, a lowered one
    /// lets holders finish and admits nobody until there is room. Requests already waiting keep the queue timeout they
    /// started with. Logs the new limits when anything changed. Does nothing after disposal.
    /// </summary>
    /// <param name="options">The new limits; copied and validated now.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names every invalid one, and the limits in force stay.</exception>
    public void UpdateOptions(AgentConcurrencyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = LimiterSettings.From(options);
        if (_state.ApplySettings(settings))
        {
            _telemetry.LimitsChanged(settings);
        }
    }

    /// <summary>Fails every waiting request with <see cref="ObjectDisposedException"/>; later acquires throw it, later releases do nothing.</summary>
    public void Dispose()
    {
        // Stop listening for new options first, so none arrives half-way through disposal.
        Interlocked.Exchange(ref _optionsSubscription, null)?.Dispose();
        _state.Dispose();
        _telemetry.Dispose();
    }

    /// <summary>Fails every waiting request with <see cref="ObjectDisposedException"/>; later acquires throw it, later releases do nothing.</summary>
    /// <returns>A completed task: disposal never waits.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    /// <summary>Logs options a host tried to apply and that were refused; the hosting integration's reload path uses it.</summary>
    internal void ReportRefusedOptions(string reason) => _telemetry.LimitsRefused(reason);

    /// <summary>Ties a subscription to new options to this limiter's lifetime: disposed with it.</summary>
    internal void OwnOptionsSubscription(IDisposable subscription)
    {
        if (Interlocked.CompareExchange(ref _optionsSubscription, subscription, null) is not null)
        {
            subscription.Dispose();
            throw new InvalidOperationException("The limiter already follows an options source.");
        }
    }
}
