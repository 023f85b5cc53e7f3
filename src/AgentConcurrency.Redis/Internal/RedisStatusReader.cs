using System.Globalization;
using System.Text.Json;
using AgentConcurrency.Internal;
using StackExchange.Redis;

namespace AgentConcurrency.Redis.Internal;

/// <summary>Builds a <see cref="ConcurrencyStatus"/> from the status script's reply, in the in-process limiter's shape.</summary>
internal static class RedisStatusReader
{
    public static ConcurrencyStatus Read(RedisResult[] reply, LimiterSettings settings, IReadOnlyList<AgentDef> knownAgents)
    {
        var limits = Pairs((RedisResult[])reply[2]!);
        var active = Pairs((RedisResult[])reply[3]!);
        var queues = new Dictionary<string, List<QueuedRequest>>(StringComparer.Ordinal);
        var waiters = (RedisResult[])reply[4]!;
        foreach (var record in waiters)
        {
            using var json = JsonDocument.Parse((string)record!);
            var waiter = json.RootElement;
            var agentId = waiter.GetProperty("a").GetString()!;
            if (!queues.TryGetValue(agentId, out var queue))
            {
                queues[agentId] = queue = [];
            }

            // The queue comes in serving order, so an agent's requests come in its own serving order too.
            queue.Add(new QueuedRequest(
                agentId,
                queue.Count + 1,
                NullIfEmpty(waiter.GetProperty("s").GetString()),
                NullIfEmpty(waiter.GetProperty("r").GetString()),
                NullIfEmpty(waiter.GetProperty("src").GetString()),
                int.Parse(waiter.GetProperty("p").GetString()!, CultureInfo.InvariantCulture),
                DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(waiter.GetProperty("t").GetString()!, CultureInfo.InvariantCulture))));
        }

        var agentLimits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var agent in knownAgents)
        {
            agentLimits[agent.Id] = settings.LimitFor(agent.Id, agent.MaxConcurrency);
        }

        foreach (var (agentId, limit) in limits)
        {
            agentLimits[agentId] = limit;
        }

        foreach (var agentId in active.Keys.Concat(queues.Keys))
        {
            agentLimits.TryAdd(agentId, settings.LimitFor(agentId, 0));
        }

        var agents = agentLimits
            .OrderBy(static entry => entry.Key, StringComparer.Ordinal)
            .Select(entry => new AgentStatus(
                entry.Key,
                entry.Value,
                active.GetValueOrDefault(entry.Key),
                queues.TryGetValue(entry.Key, out var queue) ? queue : []))
            .ToList();
        return new ConcurrencyStatus(
            (int)reply[0], (int)reply[1], settings.MaxParallelSessions, settings.MaxParallelRuns, waiters.Length, agents);
    }

    private static Dictionary<string, int> Pairs(RedisResult[] flat)
    {
        var pairs = new Dictionary<string, int>(flat.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            pairs[(string)flat[i]!] = (int)flat[i + 1];
        }

        return pairs;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
