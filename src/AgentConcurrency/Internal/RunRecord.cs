namespace AgentConcurrency.Internal;

/// <summary>
/// One active run. Records are pooled, so a slot identifies its run by this record plus <see cref="Version"/>, which is
/// bumped on every release: a stale slot then compares unequal and does nothing.
/// </summary>
internal sealed class RunRecord(LimiterState owner)
{
    private long _version;

    public LimiterState Owner { get; } = owner;

    public long Version => Volatile.Read(ref _version);

    /// <summary>The agent's gate; null for a run taken with TryAcquireRunSlot.</summary>
    public AgentGate? Gate { get; set; }

    public string? RunId { get; set; }

    public string? Source { get; set; }

    public SessionRecord? Session { get; set; }

    /// <summary>Whether its start was counted in the active-slots metric, so its end must be too.</summary>
    public bool Counted { get; set; }

    /// <summary>When the run started, for the slot-duration metric; 0 when nobody was listening then.</summary>
    public long StartedTimestamp { get; set; }

    public RunRecord? SessionPrevious { get; set; }

    public RunRecord? SessionNext { get; set; }

    /// <summary>Next record in the state's free list while pooled.</summary>
    public RunRecord? NextFree { get; set; }

    public bool IsVersion(long version) => Volatile.Read(ref _version) == version;

    /// <summary>Ends this incarnation of the record: every slot handed out for it becomes inert.</summary>
    public void Retire()
    {
        // Published with a volatile write so AgentSlot.IsHeld, read outside the lock, sees the release.
        Volatile.Write(ref _version, _version + 1);
        Gate = null;
        RunId = null;
        Source = null;
        Counted = false;
        StartedTimestamp = 0;
    }
}
