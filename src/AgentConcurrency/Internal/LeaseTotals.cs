namespace AgentConcurrency.Internal;

/// <summary>
/// What a rate-limiter adapter counts for one agent beyond the gate's own numbers: the leases it gave and refused, the
/// leases still out, and when it last saw the agent busy. Lock-free: leases are counted on many threads at once.
/// </summary>
internal sealed class LeaseTotals(TimeProvider timeProvider)
{
    private long _successful;
    private long _failed;
    private long _lastBusy = timeProvider.GetTimestamp();
    private int _held;

    public long Successful => Volatile.Read(ref _successful);

    public long Failed => Volatile.Read(ref _failed);

    /// <summary>Leases given out with a slot and not yet disposed.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>How long since a lease was last returned (or given without a slot), or since the agent was last seen busy.</summary>
    public TimeSpan IdleFor => timeProvider.GetElapsedTime(Volatile.Read(ref _lastBusy));

    public void Granted(bool holdsSlot)
    {
        Interlocked.Increment(ref _successful);
        if (holdsSlot)
        {
            // No clock read: while the slot is held the agent is busy, and its return is stamped.
            Interlocked.Increment(ref _held);
        }
        else
        {
            MarkBusy();
        }
    }

    public void Refused() => Interlocked.Increment(ref _failed);

    public void Returned()
    {
        Interlocked.Decrement(ref _held);
        MarkBusy();
    }

    public void MarkBusy() => Volatile.Write(ref _lastBusy, timeProvider.GetTimestamp());
}
