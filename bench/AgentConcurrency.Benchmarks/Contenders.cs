using System.Threading.RateLimiting;
using Polly;
using Polly.RateLimiting;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// The alternatives a .NET user would reach for, set up the way their documentation shows, with the same limits as ours:
/// every permit queue unbounded and served oldest first, as our queue is.
/// </summary>
internal static class Contenders
{
    /// <summary>One <see cref="ConcurrencyLimiter"/> partition per agent id, sized by the agent's <see cref="AgentDef.MaxConcurrency"/>.</summary>
    public static PartitionedRateLimiter<AgentDef> PartitionPerAgent() =>
        PartitionedRateLimiter.Create<AgentDef, string>(static agent =>
            RateLimitPartition.GetConcurrencyLimiter(agent.Id, _ => Options(agent.MaxConcurrency)));

    /// <summary>Per-agent partitions chained with one global partition of <paramref name="maxParallelRuns"/>, as runs are limited globally.</summary>
    public static PartitionedRateLimiter<AgentDef> PartitionPerAgentAndGlobal(int maxParallelRuns) =>
        PartitionedRateLimiter.CreateChained(
            PartitionPerAgent(),
            PartitionedRateLimiter.Create<AgentDef, string>(_ =>
                RateLimitPartition.GetConcurrencyLimiter("runs", _ => Options(maxParallelRuns))));

    /// <summary>A Polly v8 pipeline with one concurrency limiter of <paramref name="permits"/>, then <paramref name="shared"/> if given.</summary>
    public static ResiliencePipeline PollyPipeline(int permits, RateLimiter? shared = null)
    {
        var builder = new ResiliencePipelineBuilder().AddConcurrencyLimiter(Options(permits));
        if (shared is not null)
        {
            builder.AddRateLimiter(shared);
        }

        return builder.Build();
    }

    /// <summary>A plain <see cref="ConcurrencyLimiter"/> of <paramref name="permits"/>, unbounded queue, oldest first.</summary>
    public static ConcurrencyLimiter Concurrency(int permits) => new(Options(permits));

    private static ConcurrencyLimiterOptions Options(int permits) => new()
    {
        PermitLimit = permits,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    };
}
