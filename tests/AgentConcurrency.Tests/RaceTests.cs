using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

/// <summary>
/// Races named one by one (issue 5, part 3), each forced rather than hoped for. "The gap" is the moment after a grant is
/// decided under the lock and before it is handed to its caller; the limiter records the run's start there, so a metric
/// listener can act in it. Cancel vs grant is in <see cref="CancellationTests"/>.
/// </summary>
public sealed class RaceTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();

    private IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task TimeoutFiringInTheGap_LosesToTheGrant()
    {
        using var limiter = CreateLimiter(queueTimeout: TimeSpan.FromSeconds(1));
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        using var listener = TestSupport.OnActiveSlotsChange(MeterFactory, change =>
        {
            if (change == 1)
            {
                _time.Advance(TimeSpan.FromSeconds(5));
            }
        });

        holder.Dispose();

        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue("the grant was decided before the timer fired");
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0);
    }

    [Fact]
    public async Task TimeoutFiringJustBeforeTheRelease_WinsAndThePermitGoesToTheNextWaiter()
    {
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var timed = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = TimeSpan.FromSeconds(1) }).ShouldBeWaiting();
        var next = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        _time.Advance(TimeSpan.FromSeconds(1));
        holder.Dispose();

        (await timed.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>())
            .Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
        await using var slot = await next.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0);
    }

    [Fact]
    public async Task SessionReleasedInTheGap_EndsTheRunItWasJustGranted()
    {
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" }).ShouldBeWaiting();
        var released = false;
        using var listener = TestSupport.OnActiveSlotsChange(MeterFactory, change =>
        {
            if (change == 1 && !released)
            {
                released = true;
                limiter.ReleaseSessionSlot("s1");
            }
        });

        holder.Dispose();

        var slot = await waiter.WaitAsync(TestSupport.Bound);
        slot.IsHeld.Should().BeFalse("the session's release ended every run of it, this one included");
        slot.Dispose();
        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0 && s.QueuedRequests == 0);
    }

    [Fact]
    public async Task SessionReleasedWhileItsRequestWaits_FailsTheRequestAndFreesItsPlace()
    {
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" }).ShouldBeWaiting();

        limiter.ReleaseSessionSlot("s1");

        (await waiter.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>())
            .Which.ErrorCode.Should().Be(ConcurrencyErrorCode.SessionReleased);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task DisposalInTheGap_TheDecidedGrantIsStillHandedOver()
    {
        var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var granted = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        var behind = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        using var listener = TestSupport.OnActiveSlotsChange(MeterFactory, change =>
        {
            if (change == 1)
            {
                limiter.Dispose();
            }
        });

        holder.Dispose();

        (await granted.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue("its grant was decided before the disposal");
        await behind.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task LimitShrinkingWhileRequestsWait_AdmitsNobodyUntilActiveIsBelowTheNewLimit()
    {
        var agent = new AgentDef("shrinking", 3);
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        var holders = new List<AgentSlot>();
        for (var i = 0; i < 3; i++)
        {
            holders.Add(await limiter.AcquireAsync(agent));
        }

        var waiters = Enumerable.Range(0, 2).Select(_ => limiter.AcquireAsync(agent).ShouldBeWaiting()).ToList();
        var shrunk = new AgentConcurrencyOptions();
        shrunk.AgentLimits[agent.Id] = 1;
        limiter.UpdateOptions(shrunk);

        holders[0].Dispose();
        holders[1].Dispose();
        waiters.Should().OnlyContain(w => !w.IsCompleted, "two holders left, the third still holds the one slot the new limit allows");
        holders[2].Dispose();

        (await waiters[0].WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
        waiters[1].IsCompleted.Should().BeFalse();
        limiter.GetStatus().Agent(agent.Id).Should().Match<AgentStatus>(a => a.Active == 1 && a.Limit == 1 && a.Queued == 1);
    }

    [Fact]
    public async Task DoubleReleaseFromTwoThreads_GivesThePermitBackOnce()
    {
        var agent = new AgentDef("double", 2);
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        await using var other = await limiter.AcquireAsync(agent);
        for (var i = 0; i < 500; i++)
        {
            var slot = await limiter.AcquireAsync(agent);
            using var start = new Barrier(2);
            var releases = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                start.SignalAndWait(TestSupport.Bound);
                slot.Dispose();
            })).ToArray();
            await Task.WhenAll(releases).WaitAsync(TestSupport.Bound);

            limiter.GetStatus().Agent(agent.Id).Active.Should().Be(1, "the other holder's permit is untouched");
            other.IsHeld.Should().BeTrue();
        }
    }

    [Fact]
    public async Task SameRunAcquiredFromTwoThreads_StartsOneRunThatBothHold()
    {
        var agent = new AgentDef("joined", 5);
        using var limiter = CreateLimiter(queueTimeout: Timeout.InfiniteTimeSpan);
        for (var i = 0; i < 200; i++)
        {
            var options = new AcquireOptions { SessionId = "s", RunId = $"run-{i}" };
            using var start = new Barrier(2);
            var acquires = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                start.SignalAndWait(TestSupport.Bound);
                return await limiter.AcquireAsync(agent, options);
            })).ToArray();
            var slots = await Task.WhenAll(acquires).WaitAsync(TestSupport.Bound);

            slots[0].Should().Be(slots[1], "both hold the same run");
            limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 1 && s.ActiveSessions == 1);
            slots[1].Dispose();
            slots[0].IsHeld.Should().BeFalse("a run is released by any of its slots");
            limiter.GetStatus().ActiveRuns.Should().Be(0);
        }

        var explicitRuns = Enumerable.Range(0, 2).Select(_ => Task.Run(() => limiter.TryAcquireRunSlot("s", "explicit"))).ToArray();
        (await Task.WhenAll(explicitRuns).WaitAsync(TestSupport.Bound)).Should().OnlyContain(r => r.Succeeded);
        limiter.GetStatus().ActiveRuns.Should().Be(1, "an explicit run slot taken twice is counted once");
        limiter.ReleaseRunSlot("explicit");
        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    private AgentConcurrencyLimiter CreateLimiter(TimeSpan queueTimeout) =>
        new(new AgentConcurrencyOptions { QueueTimeout = queueTimeout }, _time, loggerFactory: null, MeterFactory);
}
