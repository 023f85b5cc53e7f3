using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Polly;
using Polly.Registry;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 3: acquire and release one slot of each of 10,000 distinct agents in turn: the cost of finding an agent's
/// gate among many. Every contender has seen every agent before the measurement, so this is lookup, not creation.
/// </summary>
[MemoryDiagnoser]
public class ManyAgentsBenchmarks
{
    private const int AgentCount = 10_000;
    private const int AgentLimit = 2;

    private readonly AgentDef[] _agents = Enumerable.Range(0, AgentCount).Select(static i => new AgentDef($"agent-{i}", AgentLimit)).ToArray();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _semaphores = new(StringComparer.Ordinal);
    private readonly PartitionedRateLimiter<AgentDef> _partitioned = Contenders.PartitionPerAgent();
    private readonly ResiliencePipelineRegistry<string> _polly = new();
    private readonly AgentConcurrencyLimiter _limiter = new();

    [GlobalSetup]
    public void Setup()
    {
        SemaphoreSlimPerAgent().GetAwaiter().GetResult();
        PartitionedRateLimiter().GetAwaiter().GetResult();
        PollyRegistry().GetAwaiter().GetResult();
        AcquireAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var semaphore in _semaphores.Values)
        {
            semaphore.Dispose();
        }

        _partitioned.Dispose();
        _polly.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = AgentCount, Description = "ConcurrentDictionary of SemaphoreSlim")]
    public async Task SemaphoreSlimPerAgent()
    {
        foreach (var agent in _agents)
        {
            var semaphore = _semaphores.GetOrAdd(agent.Id, static (_, limit) => new SemaphoreSlim(limit, limit), agent.MaxConcurrency);
            await semaphore.WaitAsync().ConfigureAwait(false);
            semaphore.Release();
        }
    }

    [Benchmark(OperationsPerInvoke = AgentCount, Description = "PartitionedRateLimiter, a partition per agent")]
    public async Task PartitionedRateLimiter()
    {
        foreach (var agent in _agents)
        {
            using var lease = await _partitioned.AcquireAsync(agent).ConfigureAwait(false);
        }
    }

    [Benchmark(OperationsPerInvoke = AgentCount, Description = "Polly registry, a pipeline per agent")]
    public async Task PollyRegistry()
    {
        foreach (var agent in _agents)
        {
            var pipeline = _polly.GetOrAddPipeline(agent.Id, static (builder, _) => builder.AddConcurrencyLimiter(AgentLimit, int.MaxValue));
            await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask).ConfigureAwait(false);
        }
    }

    [Benchmark(OperationsPerInvoke = AgentCount, Description = "AgentConcurrencyLimiter")]
    public async Task AcquireAsync()
    {
        foreach (var agent in _agents)
        {
            var slot = await _limiter.AcquireAsync(agent).ConfigureAwait(false);
            slot.Dispose();
        }
    }
}
