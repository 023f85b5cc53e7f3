using AgentConcurrency.Redis;
using BenchmarkDotNet.Attributes;
using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Redis, hand-off across processes: one "process" holds the only slot and another waits for it; the operation is the
/// holder's release until the waiter has resumed with the slot. Then the roles swap, so every operation crosses from one
/// connection to the other. Ours: the release's script grants the waiter and publishes its wake-up, and the waiter claims
/// it. The semaphore's waiter polls until it finds the slot free.
/// </summary>
[MemoryDiagnoser]
public class RedisHandOffBenchmarks
{
    private static readonly AgentDef Agent = new("gpu", 1);
    private readonly ConnectionMultiplexer[] _connections = new ConnectionMultiplexer[2];
    private RedisAgentConcurrencyLimiter[] _limiters = null!;
    private RedisDistributedSemaphore[] _semaphores = null!;
    private AgentSlot _slot;
    private RedisDistributedSemaphoreHandle? _handle;
    private int _holder;

    [GlobalSetup]
    public void Setup()
    {
        _connections[0] = RedisContenders.Connect();
        _connections[1] = RedisContenders.Connect();
        var prefix = RedisContenders.UniquePrefix();
        var name = RedisContenders.UniquePrefix();
        _limiters = _connections.Select(connection => RedisContenders.Limiter(connection, prefix)).ToArray();
        _semaphores = _connections.Select(connection => RedisContenders.Semaphore(connection, name, 1)).ToArray();
        _slot = _limiters[0].AcquireAsync(Agent).AsTask().GetAwaiter().GetResult();
        _handle = _semaphores[0].Acquire();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _slot.Dispose();
        _handle?.Dispose();
        foreach (var limiter in _limiters)
        {
            limiter.Dispose();
        }

        Array.ForEach(_connections, connection => connection.Dispose());
    }

    [Benchmark(Baseline = true, Description = "RedisDistributedSemaphore")]
    public async Task DistributedSemaphore()
    {
        var waiter = 1 - _holder;
        var next = _semaphores[waiter].AcquireAsync().AsTask();
        await _handle!.DisposeAsync().ConfigureAwait(false);
        _handle = await next.ConfigureAwait(false);
        _holder = waiter;
    }

    [Benchmark(Description = "RedisAgentConcurrencyLimiter")]
    public async Task Limiter()
    {
        var waiter = 1 - _holder;
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var next = _limiters[waiter].AcquireAsync(Agent, new AcquireOptions { OnQueued = _ => queued.TrySetResult() }).AsTask();

        // Released only once the waiter is in the queue: the operation is the hand-off, not a race to the free slot.
        await queued.Task.ConfigureAwait(false);
        await _slot.DisposeAsync().ConfigureAwait(false);
        _slot = await next.ConfigureAwait(false);
        _holder = waiter;
    }
}
