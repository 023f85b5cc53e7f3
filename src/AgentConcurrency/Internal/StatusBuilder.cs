using System.Diagnostics;

namespace AgentConcurrency.Internal;

/// <summary>
/// Builds a <see cref="ConcurrencyStatus"/> from what was read under the lock. Everything that allocates happens here,
/// after the lock, so a status reader holds up acquires and releases only while references and numbers are copied.
/// </summary>
internal static class StatusBuilder
{
    /// <summary>Builds the snapshot.</summary>
    /// <param name="gates">Every gate, as read.</param>
    /// <param name="numbers">Each gate's numbers, as read with it.</param>
    /// <param name="waiterSlots">Every waiter, in no order and with gaps; only fields that never change while they are queued are read.</param>
    /// <param name="waiterCount">How many waiters there are.</param>
    /// <param name="clock">The clocks as read with the rest, to date the requests.</param>
    /// <param name="counts">The global counts and limits.</param>
    public static ConcurrencyStatus Build(
        ReadOnlySpan<AgentGate?> gates, ReadOnlySpan<GateNumbers> numbers, ReadOnlySpan<Waiter?> waiterSlots, int waiterCount, in ClockReading clock, in GlobalReading counts)
    {
        // Each agent's waiters together, in one array: where each agent's range starts follows from the queue lengths read
        // under the lock. Then each agent's range in serving order (priority, then arrival), which is all the order a
        // snapshot shows: one sort of every waiter at once was most of what a snapshot cost.
        Debug.Assert(numbers.Length == gates.Length, "Every gate comes with its numbers.");
        var gateIndex = new Dictionary<AgentGate, int>(gates.Length);
        var next = new int[gates.Length];
        var start = 0;
        for (var index = 0; index < gates.Length; index++)
        {
            gateIndex[gates[index]!] = index;
            next[index] = start;
            start += numbers[index].Queued;
        }

        Debug.Assert(start == waiterCount, "The queue lengths add up to the waiters.");
        var grouped = waiterCount == 0 ? [] : new Waiter[waiterCount];
        foreach (var waiter in waiterSlots)
        {
            if (waiter is not null)
            {
                grouped[next[gateIndex[waiter.Gate]]++] = waiter;
            }
        }

        for (var index = 0; index < gates.Length; index++)
        {
            Debug.Assert(next[index] == (index + 1 < gates.Length ? next[index + 1] - numbers[index + 1].Queued : waiterCount), "Each agent's waiters fill its range exactly.");
            grouped.AsSpan(next[index] - numbers[index].Queued, numbers[index].Queued).Sort(InServingOrder);
        }

        var snapshotWaiters = new SnapshotWaiters(grouped, clock);
        var agents = new AgentStatus[gates.Length];
        for (var index = 0; index < gates.Length; index++)
        {
            var (limit, active, queuedCount) = numbers[index];
            IReadOnlyList<QueuedRequest> queued = queuedCount == 0
                ? []
                : new QueuedRequestList(snapshotWaiters, next[index] - queuedCount, queuedCount);
            agents[index] = new AgentStatus(gates[index]!.AgentId, limit, active, queued);
        }

        Array.Sort(agents, static (left, right) => string.CompareOrdinal(left.AgentId, right.AgentId));
        return new ConcurrencyStatus(
            counts.ActiveSessions, counts.ActiveRuns, counts.MaxParallelSessions, counts.MaxParallelRuns, waiterCount, agents.AsReadOnly());
    }

    /// <summary>Serving order: higher priority first, then earlier arrival. Both never change while a request waits.</summary>
    private static int InServingOrder(Waiter left, Waiter right) =>
        left.Priority != right.Priority ? right.Priority.CompareTo(left.Priority) : left.Sequence.CompareTo(right.Sequence);
}
