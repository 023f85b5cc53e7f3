using System.Diagnostics;
using AgentConcurrency;
using Microsoft.Extensions.Hosting;

namespace AgentHost;

/// <summary>Plays a fixed script of dispatches from two sources through the limiter, prints what happens, then stops the host.</summary>
internal sealed class DispatchSimulation(IAgentConcurrencyLimiter limiter, IHostApplicationLifetime lifetime) : BackgroundService
{
    private static readonly AgentDef Cookie = new("cookie", MaxConcurrency: 1);
    private static readonly AgentDef Pickle = new("pickle", MaxConcurrency: 3);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _consoleSync = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Print("Agents at start (registered from appsettings.json):");
        PrintStatus(limiter.GetStatus());

        Print("telegram and scheduler dispatch at the same moment:");
        var dispatches = new List<Task>
        {
            DispatchAsync("telegram", Cookie, "tg-1", TimeSpan.FromMilliseconds(900), stoppingToken),
            DispatchAsync("scheduler", Cookie, "sch-1", TimeSpan.FromMilliseconds(400), stoppingToken),
            DispatchAsync("telegram", Pickle, "tg-2", TimeSpan.FromMilliseconds(700), stoppingToken),
            DispatchAsync("scheduler", Pickle, "sch-2", TimeSpan.FromMilliseconds(700), stoppingToken),
            // MaxParallelRuns is 3, so this one waits for a run slot although pickle itself has room.
            DispatchAsync("scheduler", Pickle, "sch-3", TimeSpan.FromMilliseconds(300), stoppingToken),
            // An impatient caller: it gives up after 300 ms in cookie's queue.
            DispatchAsync("telegram", Cookie, "tg-3", TimeSpan.FromMilliseconds(200), stoppingToken, queueTimeout: TimeSpan.FromMilliseconds(300)),
        };

        await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken);
        Print("Status while they run and wait:");
        PrintStatus(limiter.GetStatus());

        await Task.WhenAll(dispatches);
        Print("Final status:");
        PrintStatus(limiter.GetStatus());
        lifetime.StopApplication();
    }

    private async Task DispatchAsync(
        string source, AgentDef agent, string runId, TimeSpan work, CancellationToken cancellationToken, TimeSpan? queueTimeout = null)
    {
        var options = new AcquireOptions
        {
            SessionId = source + "-session",
            RunId = runId,
            Source = source,
            QueueTimeout = queueTimeout,
            OnQueued = queued => Print($"{source,-9} {agent.Id,-6} {runId,-5} waits, queued at position {queued.Position}"),
        };

        try
        {
            await using var slot = await limiter.AcquireAsync(agent, options, cancellationToken);
            Print($"{source,-9} {agent.Id,-6} {runId,-5} runs (waited {slot.WaitTime.TotalMilliseconds:F0} ms)");
            await Task.Delay(work, cancellationToken);
            Print($"{source,-9} {agent.Id,-6} {runId,-5} done");
        }
        catch (ConcurrencyLimitExceededException failure)
        {
            Print($"{source,-9} {agent.Id,-6} {runId,-5} {(failure.ErrorCode == ConcurrencyErrorCode.QueueTimeout ? "timed out in the queue" : "was refused")} ({failure.ErrorCode})");
        }
    }

    private void Print(string line)
    {
        lock (_consoleSync)
        {
            Console.WriteLine($"[{_clock.Elapsed.TotalSeconds,5:F2}s] {line}");
        }
    }

    private void PrintStatus(ConcurrencyStatus status)
    {
        lock (_consoleSync)
        {
            Console.WriteLine($"  runs {status.ActiveRuns}/{status.MaxParallelRuns?.ToString() ?? "unlimited"}, " +
                $"sessions {status.ActiveSessions}/{status.MaxParallelSessions?.ToString() ?? "unlimited"}, queued {status.QueuedRequests}");
            Console.WriteLine($"  {"agent",-8} {"limit",5} {"active",6} {"queued",6}  queue (in serving order)");
            foreach (var agent in status.Agents)
            {
                var queue = string.Join(", ", agent.QueuedRequests.Select(q => $"#{q.Position} {q.RunId} ({q.Source})"));
                Console.WriteLine($"  {agent.AgentId,-8} {agent.Limit,5} {agent.Active,6} {agent.Queued,6}  {(queue.Length == 0 ? "-" : queue)}");
            }
        }
    }
}
