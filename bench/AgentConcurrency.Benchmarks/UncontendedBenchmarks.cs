using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Polly;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 1: acquire and release one slot of one agent with nothing else running: the cost every agent run pays. The
/// baseline is the "raw SemaphoreSlim per key": one per agent id, found by that id as every contender finds its
/// agent. A semaphore held in a field, with no lookup at all, is measured beside it as the floor under that.
/// </summary>
[MemoryDiagnoser]
public class UncontendedBenchmarks
{
    private static readonly AgentDef Agent = new("cookie", 4);

    private readonly SemaphoreSlim _semaphore = new(Agent.MaxConcurrency, Agent.MaxConcurrency);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _semaphores = new(StringComparer.Ordinal);
    private readonly PartitionedRateLimiter<AgentDef> _partitioned = Contenders.PartitionPerAgent();
    private readonly ResiliencePipeline _polly = Contenders.PollyPipeline(Agent.MaxConcurrency);
    private readonly AgentConcurrencyLimiter _limiter = new();
    private MeterListener? _listener;

    // What a host exporting metrics (OpenTelemetry, dotnet-counters) pays: every instrument of the limiter's meter has a
    // listener, whose callbacks do nothing, so the cost is the limiter's recording and not the exporter's.
    [GlobalSetup(Target = nameof(AcquireAsyncWithMetrics))]
    public void ListenToEveryInstrument()
    {
        _listener = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == "AgentConcurrency")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        _listener.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _semaphore.Dispose();
        foreach (var semaphore in _semaphores.Values)
        {
            semaphore.Dispose();
        }

        _partitioned.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SemaphoreSlim per agent id: lookup + WaitAsync + Release")]
    public async Task SemaphoreSlimPerAgent()
    {
        var semaphore = _semaphores.GetOrAdd(Agent.Id, static (_, limit) => new SemaphoreSlim(limit, limit), Agent.MaxConcurrency);
        await semaphore.WaitAsync().ConfigureAwait(false);
        semaphore.Release();
    }

    [Benchmark(Description = "SemaphoreSlim in a field: WaitAsync + Release")]
    public async Task SemaphoreSlim()
    {
        await _semaphore.WaitAsync().ConfigureAwait(false);
        _semaphore.Release();
    }

    [Benchmark(Description = "PartitionedRateLimiter AcquireAsync + lease Dispose")]
    public async Task PartitionedRateLimiter()
    {
        using var lease = await _partitioned.AcquireAsync(Agent).ConfigureAwait(false);
    }

    [Benchmark(Description = "Polly concurrency limiter ExecuteAsync")]
    public async Task Polly() =>
        await _polly.ExecuteAsync(static _ => ValueTask.CompletedTask).ConfigureAwait(false);

    [Benchmark(Description = "AgentConcurrencyLimiter AcquireAsync + Dispose")]
    public async Task AcquireAsync()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        slot.Dispose();
    }

    [Benchmark(Description = "AgentConcurrencyLimiter AcquireAsync + Dispose, every instrument listened to")]
    public async Task AcquireAsyncWithMetrics()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        slot.Dispose();
    }

    [Benchmark(Description = "AgentConcurrencyLimiter TryAcquire + Dispose")]
    public bool TryAcquire()
    {
        var acquired = _limiter.TryAcquire(Agent, null, out var slot);
        slot.Dispose();
        return acquired;
    }
}
