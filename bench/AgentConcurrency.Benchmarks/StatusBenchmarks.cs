using BenchmarkDotNet.Attributes;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 6: <see cref="AgentConcurrencyLimiter.GetStatus"/> with 1,000 busy agents and 10,000 queued requests, and what
/// a reader calling it in a loop on another thread costs a caller acquiring and releasing a free agent on the same
/// limiter. Ours only: no contender lists its queue.
/// </summary>
[MemoryDiagnoser]
public class StatusBenchmarks
{
    private const int BusyAgents = 1_000;
    private const int QueuedPerAgent = 10;
    private const int Loop = 100_000;

    private static readonly AgentDef FreeAgent = new("free", 4);

    private readonly AgentConcurrencyLimiter _limiter = new(new AgentConcurrencyOptions { MaxParallelRuns = null, MaxParallelSessions = null });
    private readonly List<AgentSlot> _held = [];
    private readonly CancellationTokenSource _stopWaiting = new();
    private CancellationTokenSource? _stopThread;
    private Thread? _thread;

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < BusyAgents; i++)
        {
            var agent = new AgentDef($"busy-{i}", 1);
            _limiter.TryAcquire(agent, null, out var slot);
            _held.Add(slot);
            for (var queued = 0; queued < QueuedPerAgent; queued++)
            {
                _ = _limiter.AcquireAsync(agent, _stopWaiting.Token).AsTask();
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopWaiting.Cancel();
        _held.ForEach(static slot => slot.Dispose());
        _limiter.Dispose();
        _stopWaiting.Dispose();
    }

    [Benchmark(Description = "GetStatus (1,000 agents, 10,000 queued)")]
    public ConcurrencyStatus GetStatus() => _limiter.GetStatus();

    // Every loop gets an iteration setup, so BenchmarkDotNet invokes them alike (once per iteration).
    [IterationSetup(Target = nameof(AcquireRelease))]
    public void NoReader()
    {
    }

    [IterationSetup(Target = nameof(AcquireReleaseWhileStatusIsRead))]
    public void StartReader() => StartThread(stop =>
    {
        while (!stop.IsCancellationRequested)
        {
            _limiter.GetStatus();
        }
    });

    // The control: a thread as busy as the reader that never touches the limiter. What it costs the loop is the machine's
    // (a core, its caches and memory shared), not the limiter's; the reader's cost beyond it is the limiter's.
    [IterationSetup(Target = nameof(AcquireReleaseBesideABusyThread))]
    public void StartBusyThread() => StartThread(static stop =>
    {
        var sum = 0L;
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < 1_000; i++)
            {
                sum += i;
            }
        }

        GC.KeepAlive(sum);
    });

    [IterationCleanup(Targets = [nameof(AcquireReleaseWhileStatusIsRead), nameof(AcquireReleaseBesideABusyThread)])]
    public void StopThread()
    {
        _stopThread!.Cancel();
        _thread!.Join();
        _stopThread.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Loop, Description = "TryAcquire + Dispose of a free agent, no reader")]
    public void AcquireRelease() => AcquireReleaseLoop();

    [Benchmark(OperationsPerInvoke = Loop, Description = "TryAcquire + Dispose of a free agent, status read in a loop")]
    public void AcquireReleaseWhileStatusIsRead() => AcquireReleaseLoop();

    [Benchmark(OperationsPerInvoke = Loop, Description = "TryAcquire + Dispose of a free agent, a busy thread beside it (control)")]
    public void AcquireReleaseBesideABusyThread() => AcquireReleaseLoop();

    private void StartThread(Action<CancellationToken> work)
    {
        var stop = _stopThread = new CancellationTokenSource();
        _thread = new Thread(() => work(stop.Token)) { IsBackground = true };
        _thread.Start();
    }

    private void AcquireReleaseLoop()
    {
        for (var i = 0; i < Loop; i++)
        {
            _limiter.TryAcquire(FreeAgent, null, out var slot);
            slot.Dispose();
        }
    }
}
