using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Polly;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 4: 64 tasks over 8 agents (limit 2 each) and 8 run slots in all, each task taking a slot, holding it for a
/// <see cref="Task.Yield"/> and giving it back, again and again. The time per operation is one acquire, hold and release
/// under contention; operations per second are its inverse.
/// </summary>
[MemoryDiagnoser]
public class ContendedBenchmarks
{
    private const int Tasks = 64;
    private const int AgentCount = 8;
    private const int AgentLimit = 2;
    private const int MaxParallelRuns = 8;
    private const int OperationsPerTask = 200;
    private const int Operations = Tasks * OperationsPerTask;

    private static readonly AgentDef[] Agents = Enumerable.Range(0, AgentCount).Select(static i => new AgentDef($"agent-{i}", AgentLimit)).ToArray();

    private readonly SemaphoreSlim[] _semaphores = Agents.Select(static _ => new SemaphoreSlim(AgentLimit, AgentLimit)).ToArray();
    private readonly SemaphoreSlim _runs = new(MaxParallelRuns, MaxParallelRuns);
    private readonly PartitionedRateLimiter<AgentDef> _partitioned = Contenders.PartitionPerAgentAndGlobal(MaxParallelRuns);
    private readonly ConcurrencyLimiter _pollyRuns = Contenders.Concurrency(MaxParallelRuns);
    private readonly AgentConcurrencyLimiter _limiter = new(new AgentConcurrencyOptions { MaxParallelRuns = MaxParallelRuns });
    private ResiliencePipeline[] _polly = [];

    [GlobalSetup]
    public void Setup() => _polly = Agents.Select(_ => Contenders.PollyPipeline(AgentLimit, _pollyRuns)).ToArray();

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var semaphore in _semaphores)
        {
            semaphore.Dispose();
        }

        _runs.Dispose();
        _partitioned.Dispose();
        _pollyRuns.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "SemaphoreSlim per agent, then one for runs")]
    public Task SemaphoreSlims() => RunTasks(this, static async (self, agent) =>
    {
        var semaphore = self._semaphores[agent];
        await semaphore.WaitAsync().ConfigureAwait(false);
        try
        {
            await self._runs.WaitAsync().ConfigureAwait(false);
            await Task.Yield();
            self._runs.Release();
        }
        finally
        {
            semaphore.Release();
        }
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "PartitionedRateLimiter, per agent chained with runs")]
    public Task PartitionedRateLimiter() => RunTasks(this, static async (self, agent) =>
    {
        using var lease = await self._partitioned.AcquireAsync(Agents[agent]).ConfigureAwait(false);
        await Task.Yield();
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "Polly, a pipeline per agent sharing a runs limiter")]
    public Task Polly() => RunTasks(this, static async (self, agent) =>
        await self._polly[agent].ExecuteAsync(static async _ => await Task.Yield()).ConfigureAwait(false));

    [Benchmark(OperationsPerInvoke = Operations, Description = "AgentConcurrencyLimiter")]
    public Task AcquireAsync() => RunTasks(this, static async (self, agent) =>
    {
        await using var slot = await self._limiter.AcquireAsync(Agents[agent]).ConfigureAwait(false);
        await Task.Yield();
    });

    private static Task RunTasks(ContendedBenchmarks self, Func<ContendedBenchmarks, int, Task> operation)
    {
        var tasks = new Task[Tasks];
        for (var task = 0; task < Tasks; task++)
        {
            var agent = task % AgentCount;
            tasks[task] = Task.Run(async () =>
            {
                for (var i = 0; i < OperationsPerTask; i++)
                {
                    await operation(self, agent).ConfigureAwait(false);
                }
            });
        }

        return Task.WhenAll(tasks);
    }
}
