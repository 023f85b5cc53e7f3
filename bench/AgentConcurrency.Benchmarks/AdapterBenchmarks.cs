using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// The rate-limiter adapters, uncontended: what code written against <see cref="RateLimiter"/> pays to take an agent's
/// slot through them, next to the runtime's own limiters doing the same job and to the limiter's native acquire.
/// </summary>
[MemoryDiagnoser]
public class AdapterBenchmarks
{
    private static readonly AgentDef Agent = new("cookie", 4);

    private readonly PartitionedRateLimiter<AgentDef> _runtimePartitioned = Contenders.PartitionPerAgent();
    private readonly ConcurrencyLimiter _runtimeSingle = Contenders.Concurrency(Agent.MaxConcurrency);
    private readonly AgentConcurrencyLimiter _limiter = new();
    private PartitionedRateLimiter<AgentDef> _partitioned = null!;
    private RateLimiter _single = null!;

    [GlobalSetup]
    public void Setup()
    {
        _partitioned = _limiter.AsPartitionedRateLimiter();
        _single = _limiter.AsRateLimiter(Agent);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runtimePartitioned.Dispose();
        _runtimeSingle.Dispose();
        _partitioned.Dispose();
        _single.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, Description = "PartitionedRateLimiter (runtime) AcquireAsync + lease Dispose")]
    public async Task RuntimePartitioned()
    {
        using var lease = await _runtimePartitioned.AcquireAsync(Agent).ConfigureAwait(false);
    }

    [Benchmark(Description = "AsPartitionedRateLimiter AcquireAsync + lease Dispose")]
    public async Task Partitioned()
    {
        using var lease = await _partitioned.AcquireAsync(Agent).ConfigureAwait(false);
    }

    [Benchmark(Description = "ConcurrencyLimiter (runtime) AcquireAsync + lease Dispose")]
    public async Task RuntimeSingle()
    {
        using var lease = await _runtimeSingle.AcquireAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "AsRateLimiter AcquireAsync + lease Dispose")]
    public async Task Single()
    {
        using var lease = await _single.AcquireAsync().ConfigureAwait(false);
    }

    [Benchmark(Description = "AsRateLimiter AttemptAcquire + lease Dispose")]
    public bool SingleAttempt()
    {
        using var lease = _single.AttemptAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "AgentConcurrencyLimiter AcquireAsync + Dispose (native)")]
    public async Task Native()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        slot.Dispose();
    }
}
