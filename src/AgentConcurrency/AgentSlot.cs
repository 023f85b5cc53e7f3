using AgentConcurrency.Internal;

namespace AgentConcurrency;

/// <summary>
/// One held slot of an agent: one run. Dispose it (<c>using</c> or <c>await using</c>) to release the run.
/// </summary>
/// <remarks>
/// <para>
/// A slot is a small value (three words) that points at the run it was granted for and at the version of that run. Releasing it twice,
/// from a copy, or after the run was released another way (<see cref="IAgentConcurrencyLimiter.ReleaseRunSlot"/>,
/// <see cref="IAgentConcurrencyLimiter.ReleaseSessionSlot"/>, or another slot of the same run) does nothing, so a stale
/// slot can never free a permit twice or free a later run that reused its id.
/// </para>
/// <para>The <see langword="default"/> slot holds nothing; disposing it does nothing.</para>
/// </remarks>
public readonly struct AgentSlot : IDisposable, IAsyncDisposable, IEquatable<AgentSlot>
{
    // Three words and no more: the awaited acquire returns it in a ValueTask, and at 48 bytes (six words) it cost that
    // acquire about a third of its time (bench/README.md, scenario 1).
    // The ids live in the run's record, which is never used again for a run that would name other ones.
    private readonly ISlotSource? _run;
    private readonly long _version;

    internal AgentSlot(RunRecord run, TimeSpan waitTime)
        : this(run, run.Version, waitTime)
    {
    }

    /// <summary>A slot of <paramref name="run"/> granted at <paramref name="version"/>, in either limiter.</summary>
    internal AgentSlot(ISlotSource run, long version, TimeSpan waitTime)
    {
        _run = run;
        _version = version;
        WaitTime = waitTime;
    }

    /// <summary>The same slot, saying it waited <paramref name="waitTime"/>: a queued grant's wait time is read after the lock.</summary>
    internal AgentSlot WithWaitTime(TimeSpan waitTime) => new(_run!, _version, waitTime);

    /// <summary>Gets the id of the agent the slot belongs to; empty for the <see langword="default"/> slot.</summary>
    public string AgentId => _run?.AgentId ?? string.Empty;

    /// <summary>Gets the session the run belongs to, if any.</summary>
    public string? SessionId => _run?.SessionId;

    /// <summary>Gets the run's id, if it has one.</summary>
    public string? RunId => _run?.RunId;

    /// <summary>Gets how long the request waited in the queue before it was granted; zero when it was granted at once.</summary>
    public TimeSpan WaitTime { get; }

    /// <summary>
    /// Gets whether the run this slot was granted for is still active: false once it was released by this slot, a copy,
    /// another slot of the same run, its run id or its session, and for the <see langword="default"/> slot.
    /// </summary>
    public bool IsHeld => _run is not null && _run.IsHeld(_version);

    /// <summary>
    /// Gets a token that is cancelled if the limiter loses this slot without it being released: a slot of the
    /// Redis-backed limiter whose process could not renew its lease in time, so that other processes may already have
    /// been given its permit. Stop the run's work when it fires. The in-process limiter never loses a slot, so its slots,
    /// and the <see langword="default"/> slot, return <see cref="CancellationToken.None"/>.
    /// </summary>
    public CancellationToken LostToken => _run?.LostToken(_version) ?? CancellationToken.None;

    /// <summary>Indicates whether two slots hold the same run: copies of one slot, or slots that joined one run.</summary>
    /// <param name="left">The first slot.</param>
    /// <param name="right">The second slot.</param>
    /// <returns><see langword="true"/> when both hold the same run.</returns>
    public static bool operator ==(AgentSlot left, AgentSlot right) => left.Equals(right);

    /// <summary>Indicates whether two slots hold different runs.</summary>
    /// <param name="left">The first slot.</param>
    /// <param name="right">The second slot.</param>
    /// <returns><see langword="true"/> when they hold different runs.</returns>
    public static bool operator !=(AgentSlot left, AgentSlot right) => !left.Equals(right);

    /// <summary>
    /// Marks the run as one that hit contention (a timeout, an HTTP 429, running out of memory): the strongest "back off"
    /// signal for an agent with an adaptive limit (<see cref="AgentConcurrencyOptions.AdaptiveLimits"/>), which takes it
    /// when the slot is released. A slot released without a report counts as a success. For an agent with a static limit
    /// it changes nothing; calling it twice, or after the run was released, does nothing.
    /// </summary>
    public void ReportOverload() => _run?.ReportOverload(_version);

    /// <summary>Releases the run, giving its permits back; does nothing if it was already released.</summary>
    public void Dispose()
    {
        // The in-process run first, without an interface call: this is every release's hot path.
        if (_run is RunRecord run)
        {
            run.Owner.Release(run, _version);
        }
        else
        {
            _run?.Release(_version, ran: true);
        }
    }

    /// <summary>
    /// Releases a grant that was never used (its caller had gone, or it only proved that a slot was free): no run took
    /// place, so an adaptive limit must not learn from it.
    /// </summary>
    internal void ReturnUnused() => _run?.Release(_version, ran: false);

    /// <summary>Releases the run, giving its permits back; does nothing if it was already released.</summary>
    /// <returns>
    /// A task that completes when the limiter has taken the run back: at once for the in-process limiter, after Redis
    /// confirmed it for the Redis-backed one.
    /// </returns>
    public ValueTask DisposeAsync() => _run?.ReleaseAsync(_version) ?? default;

    /// <inheritdoc/>
    public bool Equals(AgentSlot other) => ReferenceEquals(_run, other._run) && _version == other._version;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is AgentSlot other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_run, _version);

    /// <inheritdoc/>
    public override string ToString() =>
        $"AgentSlot(Agent = {AgentId}, Session = {SessionId ?? "-"}, Run = {RunId ?? "-"}, Held = {IsHeld})";
}
