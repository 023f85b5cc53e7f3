using Microsoft.Extensions.Logging;

namespace AgentConcurrency.Tests.Hosting;

public class LiveRetuningTests
{
    private static readonly AgentDef Cookie = new("cookie", MaxConcurrency: 1);

    [Fact]
    public async Task A_raised_agent_limit_admits_waiters_at_once()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:cookie"] = "1" });
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:cookie"] = "2" });

        await using var admitted = await waiter.WaitAsync(TestSupport.Bound);
        holder.IsHeld.Should().BeTrue("raising a limit drops nothing");
        host.Limiter.GetStatus().Agent("cookie").Should().BeEquivalentTo(new { Limit = 2, Active = 2, Queued = 0 });
    }

    [Fact]
    public async Task A_raised_run_limit_admits_waiters_at_once()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "1" });
        var pickle = new AgentDef("pickle", 3);
        await using var holder = await host.Limiter.AcquireAsync(pickle).Within();
        var waiter = host.Limiter.AcquireAsync(pickle).ShouldBeWaiting();

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "2" });

        await using var admitted = await waiter.WaitAsync(TestSupport.Bound);
        host.Limiter.GetStatus().ActiveRuns.Should().Be(2);
    }

    [Fact]
    public async Task A_lowered_limit_lets_holders_finish_and_admits_nobody_until_there_is_room()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:cookie"] = "2" });
        var first = await host.Limiter.AcquireAsync(Cookie).Within();
        var second = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:cookie"] = "1" });

        first.IsHeld.Should().BeTrue();
        second.IsHeld.Should().BeTrue();
        host.Limiter.GetStatus().Agent("cookie").Should().BeEquivalentTo(new { Limit = 1, Active = 2, Queued = 1 });

        first.Dispose();
        waiter.IsCompleted.Should().BeFalse("one holder is still at the new limit of 1");

        second.Dispose();
        await using var admitted = await waiter.WaitAsync(TestSupport.Bound);
        host.Limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task A_removed_override_falls_back_to_the_agents_declared_limit()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:pickle"] = "1" });
        var pickle = new AgentDef("pickle", 3);
        await using var holder = await host.Limiter.AcquireAsync(pickle).Within();

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:pickle"] = null });

        host.Limiter.GetStatus().Agent("pickle").Limit.Should().Be(3);
    }

    [Fact]
    public void Invalid_new_values_are_refused_with_a_logged_error_and_the_old_limits_stay()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "2" });
        var limiter = host.Limiter;

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "0" });

        limiter.GetStatus().MaxParallelRuns.Should().Be(2);
        var refused = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 7).Which;
        refused.Level.Should().Be(LogLevel.Error);
        refused.Message.Should().Contain("AgentConcurrency:MaxParallelRuns must be at least 1, was 0.");
        limiter.TryAcquire(Cookie, null, out var slot).Should().BeTrue("the limiter keeps working on its old limits");
        slot.Dispose();

        // Once the configuration is fixed, the next reload applies it.
        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "4" });
        limiter.GetStatus().MaxParallelRuns.Should().Be(4);
    }

    [Fact]
    public void A_change_is_logged_once_and_a_reload_that_changes_nothing_is_not()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "2" });
        _ = host.Limiter;

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "5" });
        host.Reload(new Dictionary<string, string?> { ["Unrelated"] = "x" });

        var changed = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 6).Which;
        changed.Level.Should().Be(LogLevel.Information);
        changed.Message.Should().Contain("MaxParallelRuns=5");
    }

    [Fact]
    public async Task UpdateOptions_retunes_a_limiter_built_without_a_host_and_refuses_bad_options_whole()
    {
        await using var limiter = TestSupport.CreateLimiter(o => o.AgentLimits["cookie"] = 1);
        await using var holder = await limiter.AcquireAsync(Cookie).Within();
        var waiter = limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        var bad = new AgentConcurrencyOptions { MaxParallelRuns = 0 };
        bad.AgentLimits["cookie"] = 2;
        limiter.Invoking(l => l.UpdateOptions(bad)).Should().Throw<ArgumentException>().WithMessage("*MaxParallelRuns must be at least 1, was 0.*");
        waiter.IsCompleted.Should().BeFalse("refused options change nothing, not even the valid part");

        var good = new AgentConcurrencyOptions();
        good.AgentLimits["cookie"] = 2;
        limiter.UpdateOptions(good);
        await using var admitted = await waiter.WaitAsync(TestSupport.Bound);
    }

    [Fact]
    public async Task A_shorter_idle_timeout_applies_to_gates_already_idle()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:IdleAgentTimeout"] = "01:00:00" });
        await using (await host.Limiter.AcquireAsync(Cookie).Within())
        {
        }

        host.Reload(new Dictionary<string, string?> { ["AgentConcurrency:IdleAgentTimeout"] = "00:00:01" });
        host.Clock.Advance(TimeSpan.FromSeconds(5));

        host.Limiter.GetStatus().Agents.Should().BeEmpty();
    }

    [Fact]
    public async Task After_the_session_limit_is_lowered_active_sessions_keep_starting_runs_but_no_new_session_starts()
    {
        await using var limiter = TestSupport.CreateLimiter(o => o.MaxParallelSessions = 2);
        var pickle = new AgentDef("pickle", 5);
        await using var a = await limiter.AcquireAsync(pickle, new AcquireOptions { SessionId = "a" }).Within();
        await using var b = await limiter.AcquireAsync(pickle, new AcquireOptions { SessionId = "b" }).Within();

        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelSessions = 1 });

        limiter.TryAcquire(pickle, new AcquireOptions { SessionId = "a" }, out var more).Should().BeTrue("session a is already active");
        more.Dispose();
        limiter.TryAcquire(pickle, new AcquireOptions { SessionId = "c" }, out _).Should().BeFalse("two sessions are active and the limit is now 1");
        limiter.GetStatus().ActiveSessions.Should().Be(2);
    }

    [Fact]
    public void UpdateOptions_after_disposal_does_nothing()
    {
        var limiter = TestSupport.CreateLimiter();
        limiter.Dispose();

        limiter.Invoking(l => l.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 1 })).Should().NotThrow();
        limiter.GetStatus().MaxParallelRuns.Should().Be(50);
    }
}
