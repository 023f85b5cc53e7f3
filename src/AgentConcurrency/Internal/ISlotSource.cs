namespace AgentConcurrency.Internal;

/// <summary>
/// What an <see cref="AgentSlot"/> points at: the record of the run it was granted for, in whichever limiter granted it.
/// The slot carries the version it was granted at, so a source can tell a stale slot from the current one.
/// </summary>
internal interface ISlotSource
{
    /// <summary>
    /// The agent the run belongs to. This and the ids below stay what they were for every version the source handed out,
    /// even once the run ended: a slot reads them here, and a source is used again only for a run that names the same.
    /// </summary>
    string AgentId { get; }

    /// <summary>The session the run belongs to, if any.</summary>
    string? SessionId { get; }

    /// <summary>The run's id, if it has one.</summary>
    string? RunId { get; }

    /// <summary>Whether the run granted at <paramref name="version"/> is still held.</summary>
    bool IsHeld(long version);

    /// <summary>Releases the run granted at <paramref name="version"/>; does nothing if that grant is no longer current.</summary>
    /// <param name="version">The version the slot was granted at.</param>
    /// <param name="ran">False for a grant handed straight back unused, which an adaptive limit must not learn from.</param>
    void Release(long version, bool ran);

    /// <summary>Releases the run granted at <paramref name="version"/>, completing when the limiter has taken it back.</summary>
    ValueTask ReleaseAsync(long version);

    /// <summary>Marks the run granted at <paramref name="version"/> as overloaded; does nothing if that grant is no longer current.</summary>
    void ReportOverload(long version);

    /// <summary>A token cancelled when the limiter loses the run granted at <paramref name="version"/> without a release.</summary>
    CancellationToken LostToken(long version);
}
