using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

public class IdleCleanupTests
{
    [Fact]
    public async Task IdleGate_AfterIdleAgentTimeout_IsDroppedAndForgetsItsLimit()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), time);
        var slot = await limiter.AcquireAsync(new AgentDef("a", 4));
        slot.Dispose();

        time.Advance(TimeSpan.FromSeconds(59));
        limiter.GetStatus().Agents.Should().ContainSingle(a => a.AgentId == "a" && a.Limit == 4, "it has been idle for less than the timeout");

        time.Advance(TimeSpan.FromSeconds(16));
        limiter.GetStatus().Agents.Should().BeEmpty("it has been idle for 1.25 times the timeout");

        await using var again = await limiter.AcquireAsync(new AgentDef("a", 2));
        limiter.GetStatus().Agent("a").Limit.Should().Be(2, "a dropped gate comes back with its next caller's limit");
    }

    [Fact]
    public async Task Gate_WithAHolderOrAWaiter_IsNeverDropped()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromSeconds(1), time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        time.Advance(TimeSpan.FromMinutes(5));

        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 1);
        holder.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task Gate_WithOnlyWaiters_IsNeverDropped()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(
            options =>
            {
                options.IdleAgentTimeout = TimeSpan.FromSeconds(1);
                options.MaxParallelRuns = 1;
            },
            time);
        var other = await limiter.AcquireAsync(TestSupport.Pickle);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        time.Advance(TimeSpan.FromMinutes(5));

        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 0 && a.Queued == 1);
        other.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("cookie");
    }

    [Fact]
    public async Task IdleGate_UsedAgainBeforeTheTimeout_StartsItsIdleTimeOver()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), time);
        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();
        time.Advance(TimeSpan.FromSeconds(50));

        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();
        time.Advance(TimeSpan.FromSeconds(50));

        limiter.GetStatus().Agents.Should().ContainSingle();
    }

    [Fact]
    public async Task GateIdleAgain_GoesBehindTheGatesThatWentIdleBeforeIt()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), time);
        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();
        (await limiter.AcquireAsync(TestSupport.Pickle)).Dispose();
        time.Advance(TimeSpan.FromSeconds(30));

        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();
        time.Advance(TimeSpan.FromSeconds(45));

        limiter.GetStatus().Agents.Select(a => a.AgentId).Should().Equal(["cookie"], "pickle has been idle for 75 s, cookie for 45 s");
    }

    [Fact]
    public async Task GateBusyAgainAfterItWentIdle_DoesNotHoldBackTheIdleGatesBehindIt()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), time);
        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();
        (await limiter.AcquireAsync(TestSupport.Pickle)).Dispose();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);

        time.Advance(TimeSpan.FromSeconds(75));
        limiter.GetStatus().Agents.Select(a => a.AgentId).Should().Equal(["cookie"], "pickle went idle 75 s ago; cookie is held");

        holder.Dispose();
        time.Advance(TimeSpan.FromSeconds(59));
        limiter.GetStatus().Agents.Should().ContainSingle("cookie has been idle for 59 s");
        time.Advance(TimeSpan.FromSeconds(16));
        limiter.GetStatus().Agents.Should().BeEmpty("cookie has been idle for 75 s");
    }

    [Fact]
    public async Task IdleGate_WithInfiniteTimeout_IsKept()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = Timeout.InfiniteTimeSpan, time);
        (await limiter.AcquireAsync(TestSupport.Cookie)).Dispose();

        time.Advance(TimeSpan.FromDays(30));

        limiter.GetStatus().Agents.Should().ContainSingle();
    }

    [Fact]
    public void IdleGates_ManyDistinctIds_AreAllDropped()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromSeconds(10), time);
        for (var i = 0; i < 10_000; i++)
        {
            limiter.TryAcquire(new AgentDef("agent-" + i, 1), null, out var slot).Should().BeTrue();
            slot.Dispose();
        }

        time.Advance(TimeSpan.FromSeconds(13));

        limiter.GetStatus().Agents.Should().BeEmpty();
    }

    [Fact]
    public async Task GetStatus_IdleGatesDroppedAmongBusyOnes_ShowsEachBusyAgentsOwnNumbers()
    {
        // Ten busy agents, each known after ten that go idle: dropping the idle ones moves the busy ones around inside
        // the limiter. The status must show each busy agent's own numbers, read straight after the sweep (before any of
        // them changes) and again after each has changed: limit 1 + k for busy-k, one slot held, and busy-0's waiter.
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromSeconds(1), time);
        var held = new List<AgentSlot>();
        for (var k = 0; k < 10; k++)
        {
            for (var idle = 0; idle < 10; idle++)
            {
                (await limiter.AcquireAsync(new AgentDef($"idle-{k}-{idle}", 5))).Dispose();
            }

            held.Add(await limiter.AcquireAsync(new AgentDef($"busy-{k}", 1 + k)));
        }

        var waiter = limiter.AcquireAsync(new AgentDef("busy-0", 1)).ShouldBeWaiting();

        time.Advance(TimeSpan.FromSeconds(2));

        ShouldShowTheBusyAgents(limiter, active: 1, queuedAtBusy0: 1);
        held.ForEach(static slot => slot.Dispose());
        var granted = await waiter.WaitAsync(TestSupport.Bound);
        ShouldShowTheBusyAgents(limiter, active: 0, queuedAtBusy0: 0, activeAtBusy0: 1);
        granted.Dispose();
        ShouldShowTheBusyAgents(limiter, active: 0, queuedAtBusy0: 0);
    }

    private static void ShouldShowTheBusyAgents(AgentConcurrencyLimiter limiter, int active, int queuedAtBusy0, int? activeAtBusy0 = null)
    {
        var agents = limiter.GetStatus().Agents;
        agents.Select(a => a.AgentId).Should().Equal(Enumerable.Range(0, 10).Select(k => $"busy-{k}"), "the idle agents were dropped");
        for (var k = 0; k < 10; k++)
        {
            var expectedActive = k == 0 ? activeAtBusy0 ?? active : active;
            var expectedQueued = k == 0 ? queuedAtBusy0 : 0;
            agents[k].Should().Match<AgentStatus>(
                a => a.Limit == 1 + k && a.Active == expectedActive && a.Queued == expectedQueued, "busy-{0} keeps its own numbers", k);
        }
    }
}
