using System.Runtime.InteropServices;

namespace AgentConcurrency.Internal;

/// <summary>
/// Builds a <see cref="ConcurrencyStatus"/> from what was read under the lock. Everything that allocates happens here,
/// after the lock, so a status reader holds up acquires and releases only while references and numbers are copied.
/// </summary>
internal static class StatusBuilder
{
    /// <summary>Builds the snapshot; <paramref name="waiters"/> are in serving order, and only their immutable fields are read.</summary>
    public static ConcurrencyStatus Build(
        ReadOnlySpan<GateReading> gates,
        ReadOnlySpan<Waiter> waiters,
        in ClockReading clock,
        int activeSessions,
        int activeRuns,
        int? maxParallelSessions,
        int? maxParallelRuns)
    {
        Dictionary<AgentGate, List<QueuedRequest>>? queues = null;
        foreach (var waiter in waiters)
        {
            queues ??= [];
            ref var queue = ref CollectionsMarshal.GetValueRefOrAddDefault(queues, waiter.Gate, out _);
            queue ??= [];
            queue.Add(waiter.ToQueuedRequest(queue.Count + 1, clock));
        }

        var agents = new AgentStatus[gates.Length];
        for (var index = 0; index < gates.Length; index++)
        {
            var reading = gates[index];
            IReadOnlyList<QueuedRequest> queued = queues is not null && queues.TryGetValue(reading.Gate, out var list) ? list.AsReadOnly() : [];
            agents[index] = new AgentStatus(reading.Gate.AgentId, reading.Limit, reading.Active, queued);
        }

        Array.Sort(agents, static (left, right) => string.CompareOrdinal(left.AgentId, right.AgentId));
        return new ConcurrencyStatus(activeSessions, activeRuns, maxParallelSessions, maxParallelRuns, waiters.Length, agents.AsReadOnly());
    }
}
