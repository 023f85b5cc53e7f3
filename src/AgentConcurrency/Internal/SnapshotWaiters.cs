namespace AgentConcurrency.Internal;

/// <summary>
/// The waiters of one status snapshot, each agent's together and in serving order, with the clocks read under the lock
/// to date them. One per snapshot, shared by its agents' queues, so that each of those is only a range.
/// </summary>
/// <param name="waiters">The waiters, grouped by agent.</param>
/// <param name="clock">The clocks as read with the rest of the snapshot.</param>
internal sealed class SnapshotWaiters(Waiter[] waiters, ClockReading clock)
{
    /// <summary>Describes the waiter at <paramref name="index"/> as the request at <paramref name="position"/> in its agent's queue.</summary>
    public QueuedRequest Describe(int index, int position) => waiters[index].ToQueuedRequest(position, clock);
}
