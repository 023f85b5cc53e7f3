using AgentConcurrency.Redis;
using BenchmarkDotNet.Attributes;
using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Redis, contended throughput: three "processes" (a connection each) run 8 callers apiece over one agent of limit 4,
/// each holding its slot for a <see cref="Task.Yield"/>. One operation is one acquire and release; the time per operation
/// is the inverse of throughput. A waiter of ours is woken by the release that admits it; a waiter of the semaphore
/// polls Redis until it gets in.
/// </summary>
[MemoryDiagnoser]
public class RedisContendedBenchmarks
{
    private const int Processes = 3;
    private const int CallersPerProcess = 8;
    private const int OperationsPerCaller = 25;
    private const int Operations = Processes * CallersPerProcess * OperationsPerCaller;
    private static readonly AgentDef Agent = new("gpu", 4);
    private readonly List<ConnectionMultiplexer> _connections = [];
    private RedisAgentConcurrencyLimiter[] _limiters = null!;
    private RedisDistributedSemaphore[] _semaphores = null!;

    [GlobalSetup]
    public void Setup()
    {
        var prefix = RedisContenders.UniquePrefix();
        var name = RedisContenders.UniquePrefix();
        for (var i = 0; i < Processes; i++)
        {
            _connections.Add(RedisContenders.Connect());
        }

        _limiters = _connections.Select(connection => RedisContenders.Limiter(connection, prefix)).ToArray();
        _semaphores = _connections.Select(connection => RedisContenders.Semaphore(connection, name, 4)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var limiter in _limiters)
        {
            limiter.Dispose();
        }

        _connections.ForEach(connection => connection.Dispose());
    }

    [Benchmark(Baseline = true, Description = "RedisDistributedSemaphore", OperationsPerInvoke = Operations)]
    public Task DistributedSemaphore() => Storm(_semaphores, static async semaphore =>
    {
        var handle = await semaphore.AcquireAsync().ConfigureAwait(false);
        await Task.Yield();
        await handle.DisposeAsync().ConfigureAwait(false);
    });

    [Benchmark(Description = "RedisAgentConcurrencyLimiter", OperationsPerInvoke = Operations)]
    public Task Limiter() => Storm(_limiters, static async limiter =>
    {
        var slot = await limiter.AcquireAsync(Agent).ConfigureAwait(false);
        await Task.Yield();
        await slot.DisposeAsync().ConfigureAwait(false);
    });

    private static Task Storm<T>(T[] processes, Func<T, Task> operation) =>
        Task.WhenAll(processes.SelectMany(process => Enumerable.Range(0, CallersPerProcess).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < OperationsPerCaller; i++)
            {
                await operation(process).ConfigureAwait(false);
            }
        }))));
}
