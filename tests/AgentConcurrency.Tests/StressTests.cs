using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace AgentConcurrency.Tests;

/// <summary>
/// The limiter for real: many tasks on the thread pool, real time, random cancellation and timeouts. CI runs a bounded
/// amount; <c>AGENT_CONCURRENCY_STRESS_OPERATIONS=1000000</c> runs the first test long, and it prints what it did (see
/// the README for the command that shows test output).
/// </summary>
public class StressTests(ITestOutputHelper output)
{
    private const string OperationsVariable = "AGENT_CONCURRENCY_STRESS_OPERATIONS";
    private const int Workers = 32;
    private const int DefaultOperations = 8_000;
    private const int MaxRuns = 6;
    private const int MaxSessions = 3;
    private const int PerSource = 3;

    private static readonly AgentDef[] Agents = [new("a0", 1), new("a1", 2), new("a2", 3), new("a3", 1), new("a4", 2)];

    [Fact]
    public async Task ManyTasks_WithRandomCancellationAndTimeouts_NeverExceedALimitAndGiveEveryPermitBack()
    {
        var operations = int.TryParse(Environment.GetEnvironmentVariable(OperationsVariable), CultureInfo.InvariantCulture, out var asked) && asked > 0
            ? asked
            : DefaultOperations;
        var perWorker = Math.Max(1, operations / Workers);

        // Every task must finish within the bound (no lost waiter, no deadlock): a minute, and a minute per 100,000 more.
        var bound = TimeSpan.FromMinutes(1 + (operations / 100_000));

        // Real time and the real thread pool: the interleavings are the point here, and every wait is still bounded.
        using var limiter = new AgentConcurrencyLimiter(
            new AgentConcurrencyOptions { MaxParallelRuns = MaxRuns, MaxParallelSessions = MaxSessions, MaxConcurrencyPerSource = PerSource },
            TimeProvider.System);
        var tracker = new Tracker();
        var clock = Stopwatch.StartNew();

        var workers = Enumerable.Range(0, Workers).Select(seed => Task.Run(() => WorkAsync(limiter, tracker, new Random(seed), perWorker))).ToArray();
        await Task.WhenAll(workers).WaitAsync(bound);

        var status = limiter.GetStatus();
        var leaked = status.ActiveRuns + status.ActiveSessions + status.QueuedRequests + status.Agents.Sum(a => a.Active + a.Queued);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{tracker.Attempts:N0} operations ({tracker.Grants:N0} granted) by {Workers} tasks in {clock.Elapsed.TotalSeconds:F1} s: {tracker.ViolationCount} violations, {leaked} permits leaked."));
        tracker.Violations.Should().BeEmpty();
        tracker.Grants.Should().BeGreaterThan(Workers * perWorker / 4, "most requests should eventually be served");
        leaked.Should().Be(0, "every run, session and queue place is given back");
    }

    [Fact]
    public async Task ManyTasks_MixingRunIdsExplicitSlotsAndSessionReleases_KeepEverySnapshotWithinLimitsAndDrainToZero()
    {
        using var limiter = new AgentConcurrencyLimiter(
            new AgentConcurrencyOptions { MaxParallelRuns = MaxRuns, MaxParallelSessions = MaxSessions, MaxConcurrencyPerSource = PerSource },
            TimeProvider.System);
        using var done = new CancellationTokenSource();
        var violations = new List<string>();
        var snapshots = 0;

        // The limiter's own snapshots are checked here: the workers' session releases make slots inert behind their backs,
        // so only the limiter can say what is held.
        var reader = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                var status = limiter.GetStatus();
                snapshots++;
                if (status.ActiveRuns > MaxRuns || status.ActiveSessions > MaxSessions)
                {
                    violations.Add($"runs {status.ActiveRuns}, sessions {status.ActiveSessions}");
                }

                foreach (var agent in status.Agents.Where(a => a.Active > Agents.Single(d => d.Id == a.AgentId).MaxConcurrency))
                {
                    violations.Add($"{agent.AgentId} active {agent.Active}");
                }

                if (status.QueuedRequests != status.Agents.Sum(a => a.Queued))
                {
                    violations.Add($"queued {status.QueuedRequests} but agents list {status.Agents.Sum(a => a.Queued)}");
                }
            }
        });

        var workers = Enumerable.Range(0, 16).Select(seed => Task.Run(() => MixedWorkAsync(limiter, new Random(1000 + seed)))).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        await done.CancelAsync();
        await reader.WaitAsync(TestSupport.Bound);

        // Pinned sessions and agent-less runs stay until released by id; release them all.
        for (var i = 0; i < 5; i++)
        {
            limiter.ReleaseSessionSlot("s" + i);
        }

        violations.Should().BeEmpty();
        snapshots.Should().BeGreaterThan(0);
        var final = limiter.GetStatus();
        final.Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0 && s.QueuedRequests == 0);
        final.Agents.Should().OnlyContain(a => a.Active == 0 && a.Queued == 0);
    }

    private static async Task MixedWorkAsync(AgentConcurrencyLimiter limiter, Random random)
    {
        // Whatever a worker pins or takes explicitly it releases before moving on, so every wait can end: a worker that
        // never finishes is a lost waiter, not a test that starved itself.
        for (var i = 0; i < 200; i++)
        {
            var session = "s" + random.Next(5);
            switch (random.Next(8))
            {
                case 0:
                    limiter.ReleaseSessionSlot(session);
                    break;
                case 1:
                    if (limiter.TryAcquireSessionSlot(session).Succeeded)
                    {
                        try
                        {
                            await AcquireHoldReleaseAsync(limiter, random, session);
                        }
                        finally
                        {
                            limiter.ReleaseSessionSlot(session);
                        }
                    }

                    break;
                case 2:
                    var runId = "r" + random.Next(8);
                    if (TryTakeRun(limiter, session, runId))
                    {
                        await Task.Yield();
                        limiter.ReleaseRunSlot(runId);
                    }

                    break;
                default:
                    await AcquireHoldReleaseAsync(limiter, random, random.Next(3) == 0 ? null : session);
                    break;
            }
        }
    }

    private static bool TryTakeRun(AgentConcurrencyLimiter limiter, string session, string runId)
    {
        try
        {
            return limiter.TryAcquireRunSlot(session, runId).Succeeded;
        }
        catch (ArgumentException)
        {
            // The run id is active in another session: a caller error by contract.
            return false;
        }
    }

    private static async Task AcquireHoldReleaseAsync(AgentConcurrencyLimiter limiter, Random random, string? session)
    {
        using var cts = new CancellationTokenSource();
        if (random.Next(4) == 0)
        {
            cts.CancelAfter(random.Next(0, 3));
        }

        var options = new AcquireOptions
        {
            SessionId = session,
            RunId = random.Next(2) == 0 ? null : "r" + random.Next(8),
            Source = "x" + random.Next(4),
            Priority = random.Next(3),
        };
        try
        {
            var slot = await limiter.AcquireAsync(Agents[random.Next(Agents.Length)], options, cts.Token);
            await Task.Yield();
            slot.Dispose();
        }
        catch (OperationCanceledException)
        {
        }
        catch (ConcurrencyLimitExceededException ex) when (ex.ErrorCode == ConcurrencyErrorCode.SessionReleased)
        {
        }
        catch (ArgumentException ex) when (ex is not ArgumentNullException and not ArgumentOutOfRangeException)
        {
            // A run id active for another agent, with no agent, or in another session: a caller error by contract.
        }
    }

    private static async Task WorkAsync(AgentConcurrencyLimiter limiter, Tracker tracker, Random random, int iterations)
    {
        for (var i = 0; i < iterations; i++)
        {
            tracker.Attempted();
            var agent = Agents[random.Next(Agents.Length)];
            var session = random.Next(3) == 0 ? null : "s" + random.Next(5);
            var source = "x" + random.Next(4);
            var options = new AcquireOptions
            {
                SessionId = session,
                Source = source,
                Priority = random.Next(3),
                QueueTimeout = random.Next(4) == 0 ? TimeSpan.FromMilliseconds(random.Next(1, 5)) : null,
            };

            AgentSlot slot;
            if (random.Next(5) == 0)
            {
                if (!limiter.TryAcquire(agent, options, out slot))
                {
                    continue;
                }
            }
            else
            {
                using var cts = new CancellationTokenSource();
                if (random.Next(3) == 0)
                {
                    // Cancel from another thread at a random moment: before, during or after the grant.
                    var delay = random.Next(3);
                    _ = Task.Run(async () =>
                    {
                        for (var y = 0; y < delay; y++)
                        {
                            await Task.Yield();
                        }

                        await cts.CancelAsync();
                    });
                }

                try
                {
                    slot = await limiter.AcquireAsync(agent, options, cts.Token);
                }
                catch (OperationCanceledException)
                {
                    continue;
                }
                catch (ConcurrencyLimitExceededException ex) when (ex.ErrorCode == ConcurrencyErrorCode.QueueTimeout)
                {
                    continue;
                }
            }

            tracker.Enter(agent, session, source);
            await Task.Yield();
            tracker.Leave(agent, session, source);
            slot.Dispose();
            if (random.Next(10) == 0)
            {
                slot.Dispose();
            }
        }
    }

    /// <summary>
    /// Counts what the workers hold. It counts a slot after the grant and stops before the release, so its counts never
    /// exceed the limiter's: any count above a limit is a real over-admission.
    /// </summary>
    private sealed class Tracker
    {
        private readonly Lock _sync = new();
        private readonly Dictionary<string, int> _agents = [];
        private readonly Dictionary<string, int> _sessions = [];
        private readonly Dictionary<string, int> _sources = [];
        private int _runs;

        private int _attempts;

        public List<string> Violations { get; } = [];

        public int ViolationCount { get; private set; }

        public int Grants { get; private set; }

        public int Attempts => Volatile.Read(ref _attempts);

        public void Attempted() => Interlocked.Increment(ref _attempts);

        public void Enter(AgentDef agent, string? session, string source)
        {
            lock (_sync)
            {
                Grants++;
                Check(++_runs <= MaxRuns, "runs");
                Check(Increment(_agents, agent.Id) <= agent.MaxConcurrency, agent.Id);
                Check(Increment(_sources, source) <= PerSource, source);
                if (session is not null)
                {
                    Increment(_sessions, session);
                    Check(_sessions.Count <= MaxSessions, "sessions");
                }
            }
        }

        public void Leave(AgentDef agent, string? session, string source)
        {
            lock (_sync)
            {
                _runs--;
                Decrement(_agents, agent.Id);
                Decrement(_sources, source);
                if (session is not null)
                {
                    Decrement(_sessions, session);
                }
            }
        }

        private static int Increment(Dictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

        private static void Decrement(Dictionary<string, int> counts, string key)
        {
            if (--counts[key] == 0)
            {
                counts.Remove(key);
            }
        }

        private void Check(bool holds, string limit)
        {
            if (holds)
            {
                return;
            }

            ViolationCount++;
            if (Violations.Count < 20)
            {
                Violations.Add($"over the limit of {limit} at grant {Grants}");
            }
        }
    }
}
