using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 5: hand-off. The one slot of an agent is held and a request is queued for it; the holder releases, and the
/// operation ends when the queued request has resumed with the slot, which it then holds for the next operation. Every
/// contender resumes its waiter on the thread pool (none runs a waiter's code inside the release), so each measures
/// the same path: queue, release, hand over, resume.
/// </summary>
/// <remarks>Polly's concurrency limiter is a <see cref="ConcurrencyLimiter"/> inside a callback; its hand-off is that limiter's.</remarks>
[MemoryDiagnoser]
public class HandOffBenchmarks
{
    private static readonly AgentDef Agent = new("cookie", 1);

    private readonly SemaphoreSlim _semaphore = new(1, 1);
    private readonly PartitionedRateLimiter<AgentDef> _partitioned = Contenders.PartitionPerAgent();
    private readonly AgentConcurrencyLimiter _limiter = new();
    private readonly AgentConcurrencyLimiter _limiterOnStoppedClock = new(timeProvider: new StoppedClock());
    private RateLimitLease? _lease;
    private AgentSlot _slot;
    private AgentSlot _slotOnStoppedClock;

    [GlobalSetup]
    public void Setup()
    {
        _semaphore.Wait();
        _lease = _partitioned.AttemptAcquire(Agent);
        _limiter.TryAcquire(Agent, null, out _slot);
        _limiterOnStoppedClock.TryAcquire(Agent, null, out _slotOnStoppedClock);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lease?.Dispose();
        _slot.Dispose();
        _slotOnStoppedClock.Dispose();
        _semaphore.Dispose();
        _partitioned.Dispose();
        _limiter.Dispose();
        _limiterOnStoppedClock.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SemaphoreSlim")]
    public async Task SemaphoreSlim()
    {
        var next = _semaphore.WaitAsync();
        _semaphore.Release();
        await next.ConfigureAwait(false);
    }

    [Benchmark(Description = "PartitionedRateLimiter")]
    public async Task PartitionedRateLimiter()
    {
        var next = _partitioned.AcquireAsync(Agent);
        _lease!.Dispose();
        _lease = await next.ConfigureAwait(false);
    }

    /// <summary>
    /// Not a hand-off: the two clock reads the contract asks of one (when the request was queued, for its
    /// <c>EnqueuedAt</c> and timeout; when it was granted, for the slot's <c>WaitTime</c>), which the other contenders
    /// do not make. It shows how much of our figure no faster code could remove.
    /// </summary>
    [Benchmark(Description = "two TimeProvider.System reads (not a hand-off)")]
    public TimeSpan TwoClockReads() => TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp());

    [Benchmark(Description = "AgentConcurrencyLimiter")]
    public async Task AcquireAsync()
    {
        var next = _limiter.AcquireAsync(Agent);
        _slot.Dispose();
        _slot = await next.ConfigureAwait(false);
    }

    /// <summary>
    /// Not the contract: ours on a clock that costs nothing to read (<see cref="StoppedClock"/>), so every wait time is
    /// zero. Beside <see cref="AcquireAsync"/> it shows what the two clock reads cost inside a real hand-off.
    /// </summary>
    [Benchmark(Description = "AgentConcurrencyLimiter on a stopped clock (not the contract)")]
    public async Task AcquireAsyncOnStoppedClock()
    {
        var next = _limiterOnStoppedClock.AcquireAsync(Agent);
        _slotOnStoppedClock.Dispose();
        _slotOnStoppedClock = await next.ConfigureAwait(false);
    }
}
