using AgentConcurrency.Internal;

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
    private readonly LimiterSettings _settings;
    private readonly LimiterState _state;

    /// <summary>Creates a limiter.</summary>
    /// <param name="options">The limits; copied and validated now. <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock for queue timeouts, wait times and idle cleanup; <see langword="null"/> for <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names every invalid one.</exception>
    public AgentConcurrencyLimiter(AgentConcurrencyOptions? options = null, TimeProvider? timeProvider = null)
    {
        _settings = LimiterSettings.From(options ?? new AgentConcurrencyOptions());
        _state = new LimiterState(_settings, timeProvider ?? TimeProvider.System);
    }

    /// <inheritdoc/>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, CancellationToken cancellationToken = default) =>
        AcquireAsync(agent, AcquireOptions.Default, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<AgentSlot> AcquireAsync(AgentDef agent, AcquireOptions options, CancellationToken cancellationToken = default)
    {
        var limit = ResolveLimit(agent);
        ArgumentNullException.ThrowIfNull(options);
        ValidateRequest(options);
        if (cancellationToken.IsCancellationRequested)
        {
            // Disposal wins over cancellation: after Dispose every acquire throws, as documented.
            _state.ThrowIfDisposed();
            return ValueTask.FromCanceled<AgentSlot>(cancellationToken);
        }

        return _state.AcquireAsync(agent.Id, limit, options, cancellationToken);
    }

    /// <inheritdoc/>
    public bool TryAcquire(AgentDef agent, AcquireOptions? options, out AgentSlot slot)
    {
        var limit = ResolveLimit(agent);
        options ??= AcquireOptions.Default;
        ValidateRequest(options);
        return _state.TryAcquire(agent.Id, limit, options, out slot);
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

    /// <summary>Fails every waiting request with <see cref="ObjectDisposedException"/>; later acquires throw it, later releases do nothing.</summary>
    public void Dispose() => _state.Dispose();

    /// <summary>Fails every waiting request with <see cref="ObjectDisposedException"/>; later acquires throw it, later releases do nothing.</summary>
    /// <returns>A completed task: disposal never waits.</returns>
    public ValueTask DisposeAsync()
    {
        _state.Dispose();
        return default;
    }

    private int ResolveLimit(AgentDef agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (agent.Id is null)
        {
            throw new ArgumentNullException(nameof(agent), "AgentDef.Id must not be null.");
        }

        if (string.IsNullOrWhiteSpace(agent.Id))
        {
            throw new ArgumentException("AgentDef.Id must not be empty or whitespace.", nameof(agent));
        }

        // Checked even when AgentLimits overrides it: a definition that could never run is a bug at the call site.
        if (agent.MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(agent), agent.MaxConcurrency, "AgentDef.MaxConcurrency must be at least 1.");
        }

        return _settings.AgentLimits.TryGetValue(agent.Id, out var limit) ? limit : agent.MaxConcurrency;
    }

    private static void ValidateRequest(AcquireOptions options)
    {
        var blank = IsBlank(options.SessionId) ? nameof(AcquireOptions.SessionId)
            : IsBlank(options.RunId) ? nameof(AcquireOptions.RunId)
            : IsBlank(options.Source) ? nameof(AcquireOptions.Source)
            : null;
        if (blank is not null)
        {
            throw new ArgumentException($"AcquireOptions.{blank} must not be empty or whitespace when set.", nameof(options));
        }

        if (options.QueueTimeout is { } timeout && !TimeoutRules.IsValid(timeout))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), timeout, "AcquireOptions.QueueTimeout must be zero or more and at most 49.7 days, or Timeout.InfiniteTimeSpan.");
        }
    }

    private static bool IsBlank(string? id) => id is not null && string.IsNullOrWhiteSpace(id);
}
