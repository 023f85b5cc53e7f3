// The classic scenario: agent "cookie" may run only one session at a time. Two sources dispatch to it at the same
// moment; the second is told it is queued at position 1, runs when the first finishes, and the status snapshot shows
// the queue while it waits and the empty limiter at the end.
using System.Diagnostics;
using AgentConcurrency;

var cookie = new AgentDef("cookie", MaxConcurrency: 1);
var work = TimeSpan.FromMilliseconds(400);
var clock = Stopwatch.StartNew();

await using var limiter = new AgentConcurrencyLimiter(new AgentConcurrencyOptions { MaxParallelRuns = 3 });

Log("Two sources dispatch to agent 'cookie' (MaxConcurrency = 1) at the same moment.");
var fromTelegram = RunSessionAsync("telegram", "session-telegram");
var fromDiscord = RunSessionAsync("discord", "session-discord");

Log("Status while one runs and one waits:");
PrintStatus(limiter.GetStatus());

await Task.WhenAll(fromTelegram, fromDiscord);

Log("Final status:");
PrintStatus(limiter.GetStatus());

async Task RunSessionAsync(string source, string sessionId)
{
    var options = new AcquireOptions
    {
        SessionId = sessionId,
        RunId = sessionId + "/run-1",
        Source = source,
        OnQueued = queued => Log($"{source}: cookie is busy, queued at position {queued.Position}"),
    };

    await using var slot = await limiter.AcquireAsync(cookie, options);
    Log($"{source}: cookie runs {slot.RunId} (waited {slot.WaitTime.TotalMilliseconds:F0} ms)");
    await Task.Delay(work);
    Log($"{source}: cookie finished {slot.RunId}");
}

void Log(string message) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:F2}s] {message}");

static void PrintStatus(ConcurrencyStatus status)
{
    Console.WriteLine($"  sessions {status.ActiveSessions}/{status.MaxParallelSessions?.ToString() ?? "unlimited"}, " +
        $"runs {status.ActiveRuns}/{status.MaxParallelRuns?.ToString() ?? "unlimited"}, queued {status.QueuedRequests}");
    Console.WriteLine($"  {"agent",-10} {"limit",5} {"active",6} {"queued",6}  queue (in serving order)");
    foreach (var agent in status.Agents)
    {
        var queue = string.Join(", ", agent.QueuedRequests.Select(q => $"#{q.Position} {q.Source}/{q.SessionId}"));
        Console.WriteLine($"  {agent.AgentId,-10} {agent.Limit,5} {agent.Active,6} {agent.Queued,6}  {(queue.Length == 0 ? "-" : queue)}");
    }
}
