using AgentConcurrency.Redis.Internal;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Reports whether the Redis-backed limiter can reach Redis and keeps its lease.</summary>
public static class AgentConcurrencyRedisHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that is healthy while Redis answers and this instance renews its lease, and reports
    /// <paramref name="failureStatus"/> (unhealthy by default) when Redis cannot be reached, so acquires are failing, or the
    /// lease has not been renewed for a whole TTL, so held slots may be lost. Needs <c>UseRedis</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">The status to report on failure; <see langword="null"/> for unhealthy.</param>
    /// <param name="tags">Tags to filter checks by, such as <c>ready</c>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="name"/> is null.</exception>
    public static IHealthChecksBuilder AddAgentConcurrencyRedis(
        this IHealthChecksBuilder builder, string name = "agent-concurrency-redis", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            static provider => new RedisLimiterHealthCheck(provider.GetRequiredService<AgentConcurrency.Redis.RedisAgentConcurrencyLimiter>()),
            failureStatus,
            tags));
    }
}
