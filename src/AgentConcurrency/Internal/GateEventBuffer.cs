namespace AgentConcurrency.Internal;

/// <summary>
/// The gate events one operation publishes under the lock after its first (which <see cref="AfterLockWork"/> keeps
/// inline), for it to report after the lock. Kept one per thread for reuse: an operation publishes and reports its
/// events on the thread that does it, so a buffer needs no synchronisation, and most operations publish one event or
/// none and never take one.
/// </summary>
internal sealed class GateEventBuffer
{
    // Enough for a release that admits one waiter without growing: its run ended is inline; limit left, run started and
    // limit reached come here.
    private const int UsualCapacity = 3;

    // A scan that admitted a crowd may have grown the list; such a buffer is not kept, so a thread holds little.
    private const int LargestKeptCapacity = 64;

    [ThreadStatic]
    private static GateEventBuffer? t_spare;

    private readonly List<GateEvent> _events = new(UsualCapacity);

    /// <summary>This thread's spare buffer, or a new one if it has none (or is using it, for a nested operation).</summary>
    public static GateEventBuffer Rent()
    {
        var buffer = t_spare ?? new GateEventBuffer();
        t_spare = null;
        return buffer;
    }

    public void Add(in GateEvent gateEvent) => _events.Add(gateEvent);

    /// <summary>Reports the events in the order they were published, then keeps the buffer as this thread's spare.</summary>
    public void PublishAndReturn(LimiterTelemetry telemetry)
    {
        // Telemetry never throws (it guards every observer), so the buffer is always cleared and kept.
        foreach (var gateEvent in _events)
        {
            telemetry.Publish(gateEvent);
        }

        _events.Clear();
        if (_events.Capacity <= LargestKeptCapacity)
        {
            t_spare = this;
        }
    }
}
