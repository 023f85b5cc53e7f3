using System.Collections.Concurrent;
using AgentConcurrency;

namespace AgentApi;

/// <summary>
/// The runs this API started: each one acquires a slot from the limiter, holds it while its simulated work runs, and
/// can be cancelled while it waits or while it runs. Finished runs stay listed so clients can read how they ended.
/// </summary>
internal sealed class RunRegistry(IAgentConcurrencyLimiter limiter, IEnumerable<AgentDef> agents) : IDisposable
{
    private readonly Dictionary<string, AgentDef> _agents = agents.ToDictionary(agent => agent.Id, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TrackedRun> _runs = new(StringComparer.Ordinal);

    public StartOutcome Start(string agentId, StartRunRequest request)
    {
        if (!_agents.TryGetValue(agentId, out var agent))
        {
            return new StartOutcome(Run: null, UnknownAgent: true);
        }

        var run = new TrackedRun(Guid.NewGuid().ToString("n"), agentId);
        _runs[run.RunId] = run;
        var options = new AcquireOptions
        {
            RunId = run.RunId,
            SessionId = request.SessionId,
            Source = request.Source,
            Priority = request.Priority,
            QueueTimeout = request.QueueTimeoutMs is { } timeoutMs ? TimeSpan.FromMilliseconds(timeoutMs) : null,
        };

        // AcquireAsync returns at once: completed when the slot was free, pending when the request waits in the queue.
        // A ValueTask's outcome is taken once: as a task here, so it can be looked at now and awaited later.
        var acquisition = limiter.AcquireAsync(agent, options, run.Cancellation.Token).AsTask();
        if (acquisition.IsFaulted && acquisition.Exception?.InnerException is ConcurrencyLimitExceededException refusal)
        {
            _runs.TryRemove(run.RunId, out _);
            run.Dispose();
            return new StartOutcome(Run: null, Refusal: refusal.ErrorCode);
        }

        run.Status = acquisition.IsCompletedSuccessfully ? "running" : "queued";
        run.Completion = RunAsync(run, acquisition, TimeSpan.FromMilliseconds(request.DurationMs));
        return new StartOutcome(View(run));
    }

    public RunView? Find(string runId) => _runs.TryGetValue(runId, out var run) ? View(run) : null;

    /// <summary>Cancels a queued or running run and returns how it ended; a finished run is returned as it is.</summary>
    public async Task<RunView?> CancelAsync(string runId, CancellationToken cancellationToken)
    {
        if (!_runs.TryGetValue(runId, out var run))
        {
            return null;
        }

        await run.Cancellation.CancelAsync();
        await run.Completion.WaitAsync(cancellationToken);
        return View(run);
    }

    public void Dispose()
    {
        foreach (var run in _runs.Values)
        {
            run.Cancellation.Cancel();
        }
    }

    private static async Task RunAsync(TrackedRun run, Task<AgentSlot> acquisition, TimeSpan work)
    {
        try
        {
            await using var slot = await acquisition;
            run.WaitedMs = slot.WaitTime.TotalMilliseconds;
            run.Status = "running";
            await Task.Delay(work, run.Cancellation.Token);
            run.Status = "completed";
        }
        catch (OperationCanceledException)
        {
            run.Status = "canceled";
        }
        catch (ConcurrencyLimitExceededException failure)
        {
            run.Status = failure.ErrorCode == ConcurrencyErrorCode.QueueTimeout ? "timed_out" : "rejected";
            run.Error = failure.ErrorCode.ToString();
        }
        catch (ObjectDisposedException)
        {
            // The host is shutting down.
            run.Status = "canceled";
        }
    }

    private RunView View(TrackedRun run)
    {
        // A queued run's position is read from the limiter's status, so it moves up as the queue drains.
        int? position = null;
        if (run.Status == "queued")
        {
            position = limiter.GetStatus().Agents
                .FirstOrDefault(agent => agent.AgentId == run.AgentId)?.QueuedRequests
                .FirstOrDefault(request => request.RunId == run.RunId)?.Position;
        }

        return new RunView(run.RunId, run.AgentId, run.Status, position, run.WaitedMs, run.Error);
    }

    private sealed class TrackedRun(string runId, string agentId) : IDisposable
    {
        public string RunId { get; } = runId;

        public string AgentId { get; } = agentId;

        public CancellationTokenSource Cancellation { get; } = new();

        public Task Completion { get; set; } = Task.CompletedTask;

        /// <summary>Written by the run's task, read by requests; a reference write is atomic, so readers see one state or the next.</summary>
        public string Status { get; set; } = "queued";

        public double? WaitedMs { get; set; }

        public string? Error { get; set; }

        public void Dispose() => Cancellation.Dispose();
    }
}
