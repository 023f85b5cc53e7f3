using AgentConcurrency;
using BenchmarkDotNet.Attributes;

namespace AgentConcurrency.Benchmarks;

/// <summary>Acquire and release one slot of one agent with nothing else running: the cost every agent run pays.</summary>
[MemoryDiagnoser]
public class UncontendedBenchmarks
{
    private static readonly AgentDef Agent = new("cookie", 4);
    private static readonly AcquireOptions WithIds = new() { SessionId = "session-1", RunId = "run-1" };

    private readonly SemaphoreSlim _semaphore = new(4, 4);
    private readonly AgentConcurrencyLimiter _limiter = new(new AgentConcurrencyOptions());

    [GlobalCleanup]
    public void Cleanup()
    {
        _semaphore.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SemaphoreSlim WaitAsync + Release")]
    public async Task SemaphoreSlim()
    {
        await _semaphore.WaitAsync().ConfigureAwait(false);
        _semaphore.Release();
    }

    [Benchmark(Description = "AcquireAsync + Dispose")]
    public async Task AcquireAsync()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        slot.Dispose();
    }

    [Benchmark(Description = "AcquireAsync sync-consumed + Dispose")]
    public bool AcquireAsyncSync()
    {
        var pending = _limiter.AcquireAsync(Agent);
        var slot = pending.Result;
        slot.Dispose();
        return pending.IsCompletedSuccessfully;
    }

    [Benchmark(Description = "TryAcquire + Dispose")]
    public bool TryAcquire()
    {
        var acquired = _limiter.TryAcquire(Agent, null, out var slot);
        slot.Dispose();
        return acquired;
    }

    [Benchmark(Description = "AcquireAsync with session and run ids + Dispose")]
    public async Task AcquireAsyncWithIds()
    {
        var slot = await _limiter.AcquireAsync(Agent, WithIds).ConfigureAwait(false);
        slot.Dispose();
    }
}
