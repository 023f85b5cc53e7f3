using AgentConcurrency.Redis;
using AgentConcurrency.Tests.Hosting;
using StackExchange.Redis;

namespace AgentConcurrency.Tests.Redis;

/// <summary>
/// Real processes (the test host in tests/AgentConcurrency.Redis.TestHost) sharing one limit through Redis, as the
/// replicas of a host would.
/// </summary>
public sealed class RedisMultiProcessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task Three_processes_never_hold_more_than_the_shared_limit_at_once()
    {
        var redis = RedisTestServer.Connection;
        var prefix = RedisTestServer.UniquePrefix();
        var processes = Enumerable.Range(0, 3)
            .Select(_ => ChildProcess.Start("RedisTestHostDll", "storm", RedisTestServer.Configuration, prefix, "25"))
            .ToList();
        try
        {
            foreach (var process in processes)
            {
                (await process.WaitForExitAsync(Bound)).Should().Be(0, process.Output);
            }
        }
        finally
        {
            processes.ForEach(process => process.Dispose());
        }

        var peak = (int)await redis.GetDatabase().StringGetAsync(prefix + "test:peak");
        peak.Should().BeInRange(1, 2, "3 processes × 4 callers never hold more than the shared limit of 2");
        await using var observer = new RedisAgentConcurrencyLimiter(redis, redisOptions: new RedisConcurrencyOptions { KeyPrefix = prefix });
        observer.GetStatus().ActiveRuns.Should().Be(0, "every process gave its slots back");
    }

    [SkippableFact]
    public async Task A_killed_process_gives_its_slots_back_after_its_lease()
    {
        // Skips (or fails, in CI) before a child is started: without Redis the child would never say "held".
        _ = RedisTestServer.Connection;
        var prefix = RedisTestServer.UniquePrefix();
        using var holder = ChildProcess.Start("RedisTestHostDll", "hold", RedisTestServer.Configuration, prefix);
        await holder.WaitForLineAsync(line => line == "held", Bound);
        // The waiter's own lease, as long as the holder's: with 1 s, a test process starved of CPU by the rest of the
        // suite once let it lapse while it waited, and the wait failed.
        await using var connection = RedisTestServer.NewConnection();
        await using var limiter = new RedisAgentConcurrencyLimiter(
            connection, redisOptions: new RedisConcurrencyOptions { KeyPrefix = prefix, LeaseTtl = TimeSpan.FromSeconds(5) });
        var gpu = new AgentDef("gpu", MaxConcurrency: 2);
        limiter.TryAcquire(gpu, null, out _).Should().BeFalse("the other process holds both slots");
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = limiter.AcquireAsync(gpu, new AcquireOptions { OnQueued = _ => queued.TrySetResult() }).AsTask();
        await queued.Task.WaitAsync(Bound);

        holder.Kill();

        await using var granted = await waiting.WaitAsync(Bound);
        limiter.GetStatus().Agents.Single().Active.Should().Be(1, "the dead process's slots were freed, and one was granted here");
    }

    [SkippableFact]
    public async Task The_AgentHost_sample_runs_its_scenario_with_the_limits_in_Redis()
    {
        _ = RedisTestServer.Connection;
        using var sample = ChildProcess.Start("AgentHostDll", $"--Redis={RedisTestServer.Configuration}", $"--RedisKeyPrefix={RedisTestServer.UniquePrefix()}");

        var exitCode = await sample.WaitForExitAsync(Bound);

        var output = sample.Output;
        exitCode.Should().Be(0, output);
        // Which dispatch reaches Redis first varies; what each one sees does not.
        output.Should().MatchRegex(@"cookie \S+\s+waits, queued at position 1");
        output.Should().Contain("timed out in the queue (QueueTimeout)");
        output.Should().Contain("runs 0/3", "MaxParallelRuns comes from appsettings.json, and the status from Redis");
        output.Should().Contain("Final status:");
    }
}
