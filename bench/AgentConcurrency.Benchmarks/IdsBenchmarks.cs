using BenchmarkDotNet.Attributes;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 2: the uncontended acquire and release with a session id and a run id, against the plain path. Ours only:
/// no contender has sessions or runs.
/// </summary>
[MemoryDiagnoser]
public class IdsBenchmarks
{
    private static readonly AgentDef Agent = new("cookie", 4);
    private static readonly AcquireOptions WithIds = new() { SessionId = "session-1", RunId = "run-1" };

    private readonly AgentConcurrencyLimiter _limiter = new();

    [GlobalCleanup]
    public void Cleanup() => _limiter.Dispose();

    [Benchmark(Baseline = true, Description = "AcquireAsync + Dispose")]
    public async Task Plain()
    {
        var slot = await _limiter.AcquireAsync(Agent).ConfigureAwait(false);
        slot.Dispose();
    }

    [Benchmark(Description = "AcquireAsync with SessionId and RunId + Dispose")]
    public async Task WithSessionAndRun()
    {
        var slot = await _limiter.AcquireAsync(Agent, WithIds).ConfigureAwait(false);
        slot.Dispose();
    }
}
