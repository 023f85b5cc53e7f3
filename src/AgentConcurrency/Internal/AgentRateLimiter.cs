using System.Threading.RateLimiting;

namespace AgentConcurrency.Internal;

/// <summary>
/// One agent's gate as a <see cref="RateLimiter"/>: a permit is a slot of the agent, taken from the same gate, global
/// limits and queue as <see cref="AgentConcurrencyLimiter.AcquireAsync(AgentDef, AcquireOptions, CancellationToken)"/>.
/// </summary>
internal sealed class AgentRateLimiter(AgentLeaseIssuer issuer, AgentDef agent) : RateLimiter
{
    private readonly LeaseTotals _totals = new(issuer.TimeProvider);

    public override TimeSpan? IdleDuration => issuer.IdleDuration(agent, _totals);

    public override RateLimiterStatistics? GetStatistics() => issuer.GetStatistics(agent, _totals);

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => issuer.AttemptAcquire(agent, permitCount, _totals);

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        issuer.AcquireAsync(agent, permitCount, _totals, cancellationToken);

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
}
