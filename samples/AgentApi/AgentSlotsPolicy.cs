using System.Threading.RateLimiting;
using AgentConcurrency;
using Microsoft.AspNetCore.RateLimiting;

namespace AgentApi;

/// <summary>
/// ASP.NET Core's rate limiting with the agents' own gates: a request to an agent's endpoint holds one slot of that
/// agent for as long as it runs, from the same gate, global limits and queue as the background runs. The partitions are
/// <see cref="AgentConcurrencyLimiter.AsRateLimiter"/> adapters, one per agent; the middleware disposes an idle one, which
/// leaves the limiter as it is.
/// </summary>
internal sealed class AgentSlotsPolicy(AgentConcurrencyLimiter limiter, AgentCatalog agents, IConfiguration configuration)
    : IRateLimiterPolicy<string>
{
    public const string Name = "agent-slots";

    // A caller holding an HTTP connection open waits less than a background run would: "AskQueueTimeout" in configuration.
    private readonly AcquireOptions _options = new()
    {
        Source = "http",
        QueueTimeout = configuration.GetValue("AskQueueTimeout", TimeSpan.FromSeconds(30)),
    };

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = static (context, _) =>
    {
        // The failed lease says why: "Queue limit reached", or the limiter's error code (QueueTimeout, AgentLimitReached...).
        var reason = context.Lease.TryGetMetadata(MetadataName.ReasonPhrase, out var phrase) ? phrase : "rejected";
        var problem = Results.Problem(
            $"The agent has no slot for this request: {reason}.",
            statusCode: StatusCodes.Status429TooManyRequests,
            extensions: new Dictionary<string, object?> { ["reason"] = reason });
        return new ValueTask(problem.ExecuteAsync(context.HttpContext));
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        httpContext.GetRouteValue("agentId") is string agentId && agents.TryGet(agentId, out var agent)
            ? RateLimitPartition.Get(agent.Id, _ => limiter.AsRateLimiter(agent, _options))
            // No such agent: nothing to limit, and the endpoint answers 404. Agent ids are never empty, so no clash.
            : RateLimitPartition.GetNoLimiter(string.Empty);
}
