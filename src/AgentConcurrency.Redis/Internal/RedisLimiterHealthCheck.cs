using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AgentConcurrency.Redis.Internal;

/// <summary>Healthy while Redis answers and the lease is renewed; the registration's failure status otherwise.</summary>
internal sealed class RedisLimiterHealthCheck(RedisAgentConcurrencyLimiter limiter) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (reachable, sinceRenewal, failure) = await limiter.CheckAsync().ConfigureAwait(false);
        if (!reachable)
        {
            return new HealthCheckResult(
                context.Registration.FailureStatus, "Redis cannot be reached: acquiring fails until it answers again.", failure);
        }

        if (sinceRenewal != TimeSpan.MaxValue && sinceRenewal >= limiter.LeaseTtl)
        {
            return new HealthCheckResult(
                context.Registration.FailureStatus,
                $"The lease was last renewed {sinceRenewal.TotalSeconds:0.#} s ago, longer than its TTL: held slots may have been given to other processes.");
        }

        return HealthCheckResult.Healthy("Redis answers and the lease is renewed.");
    }
}
