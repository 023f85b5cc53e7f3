namespace AgentConcurrency.Internal;

/// <summary>
/// Builds a <see cref="ConcurrencyStatus"/> from what was read under the lock. Everything that allocates happens here,
/// after the lock, so a status reader holds up acquires and releases only while references and numbers are copied.
/// </summary>
internal static class StatusBuilder
{
    /// <summary>Builds the snapshot.</summary>
    /// <param name="gates">Every gate, as read.</param>
    /// <param name="waiters">Every waiter in serving order; only their immutable fields are read.</param>
    /// <param name="gateOfWaiter">For each waiter, the index of its gate in <paramref name="gates"/>.</param>
    /// <param name="clock">The clocks as read with the rest, to date the requests.</param>
    /// <param name="counts">The global counts and limits.</param>
    public static ConcurrencyStatus Build(
        ReadOnlySpan<GateReading> gates, ReadOnlySpan<Waiter> waiters, ReadOnlySpan<int> gateOfWaiter, in ClockReading clock, in GlobalReading counts)
    {
        // One array for every queue, each agent's waiters together and in serving order: where each agent's range starts
        // follows from the queue lengths read under the lock.
        var grouped = waiters.Length == 0 ? [] : new Waiter[waiters.Length];
        Span<int> next = gates.Length <= 256 ? stackalloc int[gates.Length] : new int[gates.Length];
        var start = 0;
        for (var index = 0; index < gates.Length; index++)
        {
            next[index] = start;
            start += gates[index].Queued;
        }

        for (var index = 0; index < waiters.Length; index++)
        {
            grouped[next[gateOfWaiter[index]]++] = waiters[index];
        }

        var agents = new AgentStatus[gates.Length];
        for (var index = 0; index < gates.Length; index++)
        {
            var reading = gates[index];
            IReadOnlyList<QueuedRequest> queued = reading.Queued == 0
                ? []
                : new QueuedRequestList(grouped, next[index] - reading.Queued, reading.Queued, clock);
            agents[index] = new AgentStatus(reading.Gate.AgentId, reading.Limit, reading.Active, queued);
        }

        Array.Sort(agents, static (left, right) => string.CompareOrdinal(left.AgentId, right.AgentId));
        return new ConcurrencyStatus(
            counts.ActiveSessions, counts.ActiveRuns, counts.MaxParallelSessions, counts.MaxParallelRuns, waiters.Length, agents.AsReadOnly());
    }
}
