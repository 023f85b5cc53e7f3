using AgentConcurrency.Redis;
using BenchmarkDotNet.Attributes;
using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Redis, uncontended: acquire and release one slot of one agent against Redis on loopback, nothing else running. The
/// floor is one round trip (PING); both contenders need two (acquire, release), each one script.
/// </summary>
[MemoryDiagnoser]
public class RedisUncontendedBenchmarks
{
    private static readonly AgentDef Agent = new("gpu", 4);
    private ConnectionMultiplexer _connection = null!;
    private RedisAgentConcurrencyLimiter _limiter = null!;
    private RedisDistributedSemaphore _semaphore = null!;

    [GlobalSetup]
    public void Setup()
    {
        _connection = RedisContenders.Connect();
        _limiter = RedisContenders.Limiter(_connection, RedisContenders.UniquePrefix());
        _semaphore = RedisContenders.Semaphore(_connection, RedisContenders.UniquePrefix(), 4);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _limiter.Dispose();
        _connection.Dispose();
    }

    [Benchmark(Description = "PING (one round trip)")]
    public Task<TimeSpan> Ping() => _connection.GetDatabase().PingAsync();

    [Benchmark(Baseline = true, Description = "RedisDistributedSemaphore")]
    public async Task DistributedSemaphore()
    {
        var handle = await _semaphore.AcquireAsync().ConfigureAwait(false);
        await handle.DisposeAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "RedisAgentConcurrencyLimiter")]
    public async Task Limiter()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        await slot.DisposeAsync().ConfigureAwait(false);
    }
}
