using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace AgentConcurrency.Internal;

/// <summary>
/// Every agent's gate as one <see cref="PartitionedRateLimiter{TResource}"/>: the partition is the agent id, and its
/// permits are that agent's slots, served by the limiter's own gates. The only state of its own is each agent's lease
/// totals, for <see cref="GetStatistics(AgentDef)"/>.
/// </summary>
internal sealed class AgentPartitionedRateLimiter(AgentLeaseIssuer issuer) : PartitionedRateLimiter<AgentDef>
{
    // Totals of agents with no lease out are dropped once idle past IdleAgentTimeout, when the table has doubled since the
    // last pruning: the table stays in proportion to the agents in use, at a cost spread over the agents added.
    private const int MinPruneThreshold = 1024;

    private readonly ConcurrentDictionary<string, LeaseTotals> _totals = new(StringComparer.Ordinal);
    private int _count;
    private int _pruneThreshold = MinPruneThreshold;
    private int _pruning;

    public override RateLimiterStatistics? GetStatistics(AgentDef resource)
    {
        AgentDefRules.ThrowIfInvalid(resource, nameof(resource));
        return issuer.GetStatistics(resource, _totals.GetValueOrDefault(resource.Id));
    }

    protected override RateLimitLease AttemptAcquireCore(AgentDef resource, int permitCount)
    {
        AgentDefRules.ThrowIfInvalid(resource, nameof(resource));
        return issuer.AttemptAcquire(resource, permitCount, TotalsFor(resource.Id));
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(AgentDef resource, int permitCount, CancellationToken cancellationToken)
    {
        AgentDefRules.ThrowIfInvalid(resource, nameof(resource));
        return issuer.AcquireAsync(resource, permitCount, TotalsFor(resource.Id), cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            issuer.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore()
    {
        // DisposeAsync calls Dispose(false) after this, which leaves managed state alone.
        issuer.Dispose();
        return base.DisposeAsyncCore();
    }

    private LeaseTotals TotalsFor(string agentId)
    {
        if (_totals.TryGetValue(agentId, out var totals))
        {
            return totals;
        }

        totals = new LeaseTotals(issuer.TimeProvider);
        if (!_totals.TryAdd(agentId, totals))
        {
            return _totals[agentId];
        }

        if (Interlocked.Increment(ref _count) > Volatile.Read(ref _pruneThreshold))
        {
            Prune();
        }

        return totals;
    }

    private void Prune()
    {
        var idleTimeout = issuer.IdleAgentTimeout;
        if (Interlocked.Exchange(ref _pruning, 1) == 1)
        {
            return;
        }

        try
        {
            if (idleTimeout != Timeout.InfiniteTimeSpan)
            {
                foreach (var entry in _totals)
                {
                    // A lease given from an entry removed here is still counted and returned on it, just no longer listed:
                    // the agent's totals start again, as a partition of the runtime's partitioned limiter does once idle.
                    if (entry.Value.Held == 0 && entry.Value.IdleFor > idleTimeout && _totals.TryRemove(entry))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                }
            }

            Volatile.Write(ref _pruneThreshold, Math.Max(MinPruneThreshold, Volatile.Read(ref _count) * 2));
        }
        finally
        {
            Volatile.Write(ref _pruning, 0);
        }
    }
}
