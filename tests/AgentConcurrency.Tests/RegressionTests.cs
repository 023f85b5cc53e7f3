using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

/// <summary>Bugs found in review, each pinned by the test that failed before its fix.</summary>
public class RegressionTests
{
    [Fact]
    public async Task Release_GrantStartsARunThatAnEarlierWaiterWants_TheEarlierWaiterJoinsInTheSameScan()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxConcurrencyPerSource = 1);
        var agent = new AgentDef("a", 5);
        await using var first = await limiter.AcquireAsync(agent, new AcquireOptions { Source = "s1" });
        var second = await limiter.AcquireAsync(agent, new AcquireOptions { Source = "s2" });
        var blockedBySource = limiter.AcquireAsync(agent, new AcquireOptions { RunId = "r", Source = "s1" }).ShouldBeWaiting();
        var startsTheRun = limiter.AcquireAsync(agent, new AcquireOptions { RunId = "r", Source = "s2" }).ShouldBeWaiting();

        second.Dispose();

        (await startsTheRun.WaitAsync(TestSupport.Bound)).RunId.Should().Be("r");
        (await blockedBySource.WaitAsync(TestSupport.Bound)).RunId.Should().Be("r", "it can join r, which the same scan started");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task OnQueued_ThrowsAfterItsRequestJoinedARun_LeavesTheRunToItsOtherHolders()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxConcurrencyPerSource = 1);
        var agent = new AgentDef("a", 5);
        await using var busy = await limiter.AcquireAsync(agent, new AcquireOptions { Source = "s1" });
        AgentSlot other = default;

        var act = () => limiter.AcquireAsync(
            agent,
            new AcquireOptions
            {
                RunId = "r",
                Source = "s1",
                OnQueued = _ =>
                {
                    // Another source starts run r; the waiting request joins it before this callback throws.
                    limiter.TryAcquire(agent, new AcquireOptions { RunId = "r", Source = "s2" }, out other).Should().BeTrue();
                    throw new InvalidOperationException("late");
                },
            }).AsTask();

        await act.Should().ThrowAsync<InvalidOperationException>();
        other.IsHeld.Should().BeTrue("the abandoned request only joined r; r belongs to the request that started it");
        limiter.GetStatus().Agent("a").Active.Should().Be(2);
    }

    [Fact]
    public async Task AcquireAsync_TimerCannotBeCreated_TheRequestLeavesTheQueueAndNothingLeaks()
    {
        var time = new TimerFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(
            options =>
            {
                options.QueueTimeout = TimeSpan.FromSeconds(5);
                options.IdleAgentTimeout = Timeout.InfiniteTimeSpan;
            },
            time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);

        var act = () => limiter.AcquireAsync(TestSupport.Cookie).AsTask();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("no timers");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        holder.Dispose();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(0, "no orphaned waiter took the released permit");
    }

    [Theory]
    [InlineData(50.0)]
    [InlineData(10_000.0)]
    public void Acquire_QueueTimeoutBeyondTheLongestTimer_ThrowsArgumentOutOfRange(double days)
    {
        using var limiter = TestSupport.CreateLimiter();

        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = TimeSpan.FromDays(days) }))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("options");
        var options = new AgentConcurrencyOptions { QueueTimeout = TimeSpan.FromDays(days) };
        FluentActions.Invoking(() => new AgentConcurrencyLimiter(options)).Should().Throw<ArgumentException>().WithMessage("*QueueTimeout*");
    }

    [Fact]
    public async Task AcquireAsync_RunIdConflict_LeavesTheGateAsItWas()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var run = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" });

        limiter.Invoking(l => l.TryAcquire(new AgentDef("newcomer", 7), new AcquireOptions { RunId = "r1" }, out _))
            .Should().Throw<ArgumentException>();

        limiter.GetStatus().Agents.Select(a => a.AgentId).Should().Equal("cookie");
    }

    [Theory]
    [InlineData(0.0001)]
    [InlineData(10_000.0)]
    public void Constructor_ExtremeIdleAgentTimeout_DropsAfterTheTimeoutAndNotBefore(double days)
    {
        var time = new FakeTimeProvider();
        var timeout = TimeSpan.FromDays(days);
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = timeout, time);
        limiter.TryAcquire(TestSupport.Cookie, null, out var slot).Should().BeTrue();
        slot.Dispose();

        time.Advance(timeout * 0.99);
        limiter.GetStatus().Agents.Should().ContainSingle("the gate has been idle for less than the timeout");

        time.Advance(timeout * 1.01 + TimeSpan.FromDays(50));
        limiter.GetStatus().Agents.Should().BeEmpty();
    }

    private sealed class TimerFailingTimeProvider : FakeTimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            throw new InvalidOperationException("no timers");
    }
}
