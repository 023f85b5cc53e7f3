namespace AgentConcurrency.Internal;

/// <summary>
/// One active run. Records are pooled, so a slot identifies its run by this record plus <see cref="Version"/>, which is
/// bumped on every release: a stale slot then compares unequal and does nothing. A slot also reads its agent and ids
/// here, so they are fixed for the record's life: only records without ids are pooled, each by the gate of its agent.
/// </summary>
/// <param name="owner">The state whose lock guards the record.</param>
/// <param name="agentId">The agent its runs belong to; empty for a run slot taken without an agent.</param>
/// <param name="sessionId">The session of its one run, if any.</param>
/// <param name="runId">The id of its one run, if any.</param>
internal sealed class RunRecord(LimiterState owner, string agentId, string? sessionId, string? runId) : ISlotSource
{
    private long _version;

    public LimiterState Owner { get; } = owner;

    public long Version => Volatile.Read(ref _version);

    /// <summary>The agent's gate; null for a run taken with TryAcquireRunSlot.</summary>
    public AgentGate? Gate { get; set; }

    public string AgentId { get; } = agentId;

    /// <summary>The session its run started in; unlike <see cref="Session"/>, kept once the run ended, for its slots.</summary>
    public string? SessionId { get; } = sessionId;

    public string? RunId { get; } = runId;

    public string? Source { get; set; }

    public SessionRecord? Session { get; set; }

    /// <summary>Whether its start was counted in the active-slots metric, so its end must be too.</summary>
    public bool Counted { get; set; }

    /// <summary>When the run started, for the slot-duration metric or its agent's adaptive limit; 0 when neither needed it.</summary>
    public long StartedTimestamp { get; set; }

    /// <summary>Whether its duration goes to the slot-duration metric: someone listened when it started.</summary>
    public bool Timed { get; set; }

    /// <summary>The adaptive limit in force when it started, which its end reports to; null for a static limit.</summary>
    public AdaptiveLimit? AdaptiveLimit { get; set; }

    /// <summary>The <see cref="AdaptiveLimit"/>'s epoch when the run started.</summary>
    public long AdaptiveEpoch { get; set; }

    /// <summary>Whether it took its agent's last free slot when it started.</summary>
    public bool TookLastSlot { get; set; }

    /// <summary>Whether its holder reported overload (<see cref="AgentSlot.ReportOverload"/>).</summary>
    public bool Overloaded { get; set; }

    /// <summary>
    /// How many requests were granted it and have not handed their grant back unused: its starter, and each that joined it
    /// by its run id or named it in TryAcquireRunSlot. A grant handed back unused ends the run only if it was the last;
    /// any holder's release ends it for all.
    /// </summary>
    public int Holders { get; set; }

    public RunRecord? SessionPrevious { get; set; }

    public RunRecord? SessionNext { get; set; }

    /// <summary>
    /// Whether the run holds nothing but its gate's slot and a run slot: no session, run id, source or adaptive limit. Such
    /// a run ends on a short path, which also does what the slot metrics ask of its end.
    /// </summary>
    public bool IsPlain => Gate is not null && Session is null && RunId is null && Source is null && AdaptiveLimit is null;

    /// <summary>Next record in the state's free list while pooled.</summary>
    public RunRecord? NextFree { get; set; }

    /// <inheritdoc/>
    bool ISlotSource.IsHeld(long version) => IsVersion(version);

    /// <inheritdoc/>
    void ISlotSource.Release(long version, bool ran) => Owner.Release(this, version, ran);

    /// <inheritdoc/>
    ValueTask ISlotSource.ReleaseAsync(long version)
    {
        Owner.Release(this, version);
        return default;
    }

    /// <inheritdoc/>
    void ISlotSource.ReportOverload(long version) => Owner.ReportOverload(this, version);

    /// <inheritdoc/>
    /// <remarks>One process holds the count, so a run is never lost: only released.</remarks>
    CancellationToken ISlotSource.LostToken(long version) => CancellationToken.None;

    public bool IsVersion(long version) => Volatile.Read(ref _version) == version;

    /// <summary>Ends this incarnation of the record: every slot handed out for it becomes inert.</summary>
    public void Retire()
    {
        // Published with a volatile write so AgentSlot.IsHeld, read outside the lock, sees the release.
        Volatile.Write(ref _version, _version + 1);
        Gate = null;
        Source = null;
        Counted = false;
        StartedTimestamp = 0;
        Timed = false;
        AdaptiveLimit = null;
        AdaptiveEpoch = 0;
        TookLastSlot = false;
        Overloaded = false;
        Holders = 0;
    }
}
