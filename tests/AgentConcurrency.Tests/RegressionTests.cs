using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
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
    public async Task Cancel_AfterTheGrantOfARequestThatStartedARunOthersJoined_LeavesTheRunToThem()
    {
        // Found in review: a request cancelled between its grant and its caller taking it gives its grant back. When that
        // grant started a run another request had joined meanwhile, the give-back ended the run under the one that joined:
        // its slot no longer held anything, and the agent's slot went to the next request while it still ran.
        using var limiter = TestSupport.CreateLimiter();
        var agent = new AgentDef("a", 1);
        var holder = await limiter.AcquireAsync(agent);
        using var cancellation = new CancellationTokenSource();
        AgentSlot joined = default;
        var joinedRun = false;

        var canceled = limiter.AcquireAsync(
            agent,
            new AcquireOptions
            {
                RunId = "r",
                OnQueued = _ =>
                {
                    // While its caller still sets the wait up: the release grants it run r, another request joins r, and
                    // then its caller cancels.
                    holder.Dispose();
                    joinedRun = limiter.TryAcquire(agent, new AcquireOptions { RunId = "r" }, out joined);
                    cancellation.Cancel();
                },
            },
            cancellation.Token).AsTask();

        await FluentActions.Awaiting(() => canceled.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();
        joinedRun.Should().BeTrue("r was active when the second request asked to join it");
        joined.IsHeld.Should().BeTrue("the cancelled request started r, but r is the joined request's now");
        limiter.GetStatus().Agent("a").Active.Should().Be(1);
        limiter.TryAcquire(agent, null, out _).Should().BeFalse("r still holds the agent's one slot");
        joined.Dispose();
        limiter.GetStatus().Agent("a").Active.Should().Be(0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GiveBack_ByEveryRequestGrantedARunBeforeAnyTookIt_EndsTheRun(bool starterOnQueuedThrows)
    {
        // Found in review of the fix above: with the starter's give-back skipped once the run was joined, and a joiner's
        // give-back skipped always, a run whose every request gave its grant back before taking it was never ended. A grant
        // goes back unused two ways: its caller cancels, or its OnQueued throws after the grant.
        using var limiter = TestSupport.CreateLimiter();
        var agent = new AgentDef("a", 1);
        var holder = await limiter.AcquireAsync(agent);
        using var cancellation = new CancellationTokenSource();
        Task<AgentSlot>? joining = null;

        var starting = limiter.AcquireAsync(
            agent,
            new AcquireOptions
            {
                RunId = "r",
                OnQueued = _ =>
                {
                    joining = limiter.AcquireAsync(
                        agent,
                        new AcquireOptions
                        {
                            RunId = "r",
                            OnQueued = _ =>
                            {
                                // Both wait: the release starts r for the first and lets the second join it; then the
                                // second cancels.
                                holder.Dispose();
                                cancellation.Cancel();
                            },
                        },
                        cancellation.Token).AsTask();
                    if (starterOnQueuedThrows)
                    {
                        throw new InvalidOperationException("late");
                    }
                },
            },
            cancellation.Token).AsTask();

        var startingFails = FluentActions.Awaiting(() => starting.WaitAsync(TestSupport.Bound));
        if (starterOnQueuedThrows)
        {
            await startingFails.Should().ThrowAsync<InvalidOperationException>();
        }
        else
        {
            await startingFails.Should().ThrowAsync<OperationCanceledException>();
        }

        joining.Should().NotBeNull();
        await FluentActions.Awaiting(() => joining!.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();
        limiter.GetStatus().Agent("a").Active.Should().Be(0, "nobody took r, so it ended");
        limiter.TryAcquire(agent, null, out var next).Should().BeTrue();
        next.Dispose();
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

    [Fact]
    public void AcquireAsync_OnQueuedThrows_TheFailureComesThroughTheTaskNotOutOfTheCall()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var holder).Should().BeTrue();

        var pending = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { OnQueued = _ => throw new InvalidOperationException("boom") });

        pending.IsFaulted.Should().BeTrue("a caller starting many acquires must not lose the rest to one failing callback");
        pending.AsTask().Exception!.InnerException.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("boom");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        holder.Dispose();
    }

    [Fact]
    public async Task Release_WaitersWhoseTokenIsCancelledButWhoseCallbacksHaveNotRun_AreCancelledNotGranted()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var limiter = new AgentConcurrencyLimiter(null, null, null, meterFactory);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var shared = new CancellationTokenSource();
        var cancelled = Enumerable.Range(0, 1_000).Select(_ => limiter.AcquireAsync(TestSupport.Cookie, shared.Token).ShouldBeWaiting()).ToList();
        var last = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        // Registered after the waiters' callbacks, so it runs first and holds the others back while the token reads cancelled.
        using var callbacksMayGoOn = new ManualResetEventSlim();
        using var firstCallbackRunning = new ManualResetEventSlim();
        shared.Token.Register(() =>
        {
            firstCallbackRunning.Set();
            callbacksMayGoOn.Wait(TestSupport.Bound);
        });
        var cancelling = Task.Run(shared.Cancel);
        firstCallbackRunning.Wait(TestSupport.Bound).Should().BeTrue();

        var runsStarted = 0;
        using var listener = TestSupport.OnActiveSlotsChange(meterFactory, change => Interlocked.Add(ref runsStarted, change > 0 ? 1 : 0));

        holder.Dispose();

        (await last.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue("every waiter ahead of it was cancelled");
        runsStarted.Should().Be(1, "no cancelled waiter was granted a slot it would have to give back");
        foreach (var waiter in cancelled)
        {
            await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();
        }

        callbacksMayGoOn.Set();
        await cancelling.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0);
    }

    [Fact]
    public async Task Release_QueueTimerWhoseDisposeThrows_StillHandsTheSlotOver()
    {
        var time = new TimerDisposeFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromMinutes(1), time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        holder.Dispose();

        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue("a failing clock must not strand the waiter it served");
    }

    [Fact]
    public async Task Release_ClockThatFailsWhenTheWaiterIsGranted_StillHandsTheSlotOver()
    {
        var time = new ClockFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(configure: null, time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        time.Fails = true;

        holder.Dispose();

        var granted = await waiter.WaitAsync(TestSupport.Bound);
        granted.IsHeld.Should().BeTrue("a failing clock must not strand the waiter it served, nor leak the permit it took");
        granted.WaitTime.Should().Be(TimeSpan.Zero, "a wait the clock could not measure reads as none");
        time.Fails = false;
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0);
    }

    [Fact]
    public async Task AcquireAsync_ClockThatFailsAsTheRequestIsQueued_ThrowsAndLeavesNothingQueued()
    {
        var time = new ClockFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(configure: null, time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        time.Fails = true;

        var acquire = () => limiter.AcquireAsync(TestSupport.Cookie);

        acquire.Should().Throw<InvalidOperationException>().WithMessage("no clock");
        time.Fails = false;
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0, "the request left the queue it was put in");
        holder.Dispose();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(0, "nobody was granted the slot on behalf of the failed request");
    }

    [Fact]
    public async Task Acquire_ClockThatFailsAsAnAdaptiveRunStarts_GrantsTheSlotAndTheRunTeachesNothing()
    {
        var time = new ClockFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.AdaptiveLimits["coder"] = new AdaptiveLimitOptions { BackoffRatio = 0.5 }, time);
        var coder = new AgentDef("coder", 4);
        time.Fails = true;

        var slot = await limiter.AcquireAsync(coder);

        time.Fails = false;
        limiter.GetStatus().Agent("coder").Active.Should().Be(1, "the run started, untimed");
        slot.ReportOverload();
        slot.Dispose();
        limiter.GetStatus().Agent("coder").Should().Match<AgentStatus>(
            a => a.Active == 0 && a.Limit == 4, "the slot came back, and a run the clock could not time taught the limit nothing");
    }

    [Fact]
    public async Task Release_ClockThatFailsAsAnAdaptiveRunEnds_FreesTheSlotForTheNextWaiterAndTheRunTeachesNothing()
    {
        var time = new ClockFailingTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.AdaptiveLimits["coder"] = new AdaptiveLimitOptions { BackoffRatio = 0.5 }, time);
        var coder = new AgentDef("coder", 2);
        var overloaded = await limiter.AcquireAsync(coder);
        await using var other = await limiter.AcquireAsync(coder);
        var waiter = limiter.AcquireAsync(coder).ShouldBeWaiting();
        overloaded.ReportOverload();
        time.Fails = true;

        overloaded.Dispose();

        // Had the overload been learned, the limit would be 1 and the other holder would still fill it.
        await using var granted = await waiter.WaitAsync(TestSupport.Bound);
        time.Fails = false;
        granted.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("coder").Should().Match<AgentStatus>(a => a.Active == 2 && a.Limit == 2 && a.Queued == 0);
    }

    [Fact]
    public async Task StatusSnapshot_ThatDescribesARequestBeforeItsCallerDatedIt_GivesTheDateEverySnapshotAndTheWaitTimeKeep()
    {
        var time = new SnapshotOnFirstReadTimeProvider();
        using var limiter = TestSupport.CreateLimiter(configure: null, time);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var queuedAt = time.GetUtcNow();
        time.Arm(limiter, advanceAfter: TimeSpan.FromSeconds(5));

        // The caller dates its request just after the lock; the armed clock takes a snapshot in that moment first.
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        time.SeenInTheMoment.Should().Be(queuedAt, "the snapshot dates a request its caller has not dated yet by its own clock");
        limiter.GetStatus().Agent("cookie").QueuedRequests.Should().ContainSingle().Which.EnqueuedAt.Should().Be(queuedAt, "that date stands");
        holder.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).WaitTime.Should().Be(TimeSpan.FromSeconds(5), "the wait is timed from the same date");
    }

    /// <summary>A clock that, once armed, takes and reads a status snapshot the first time it is asked for a timestamp.</summary>
    private sealed class SnapshotOnFirstReadTimeProvider : FakeTimeProvider
    {
        private AgentConcurrencyLimiter? _limiter;
        private TimeSpan _advanceAfter;

        public DateTimeOffset? SeenInTheMoment { get; private set; }

        public void Arm(AgentConcurrencyLimiter limiter, TimeSpan advanceAfter)
        {
            _limiter = limiter;
            _advanceAfter = advanceAfter;
        }

        public override long GetTimestamp()
        {
            if (Interlocked.Exchange(ref _limiter, null) is { } limiter)
            {
                SeenInTheMoment = limiter.GetStatus().Agent("cookie").QueuedRequests.Single().EnqueuedAt;
                Advance(_advanceAfter);
            }

            return base.GetTimestamp();
        }
    }

    private sealed class TimerFailingTimeProvider : FakeTimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            throw new InvalidOperationException("no timers");
    }

    private sealed class TimerDisposeFailingTimeProvider : FakeTimeProvider
    {
        // Queue timers fire once; the limiter's periodic idle sweep keeps a well-behaved timer.
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            period == Timeout.InfiniteTimeSpan
                ? new FailingDisposeTimer(base.CreateTimer(callback, state, dueTime, period))
                : base.CreateTimer(callback, state, dueTime, period);

        private sealed class FailingDisposeTimer(ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

            public void Dispose()
            {
                inner.Dispose();
                throw new InvalidOperationException("the clock failed");
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return default;
            }
        }
    }

    [Fact]
    public async Task AcquireAsync_ClockThatRunsTimersWhenRead_NeverQueuesOnAGateTheIdleSweepDropped()
    {
        // Found in review of a change that read the clock under the lock for a request about to wait: a TimeProvider that
        // runs due timers when read (FakeTimeProvider with AutoAdvanceAmount) ran the idle sweep inside the lock, which
        // dropped the idle gate the request was then queued on. The status threw, and a second gate doubled the limit.
        var clock = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(
            options =>
            {
                options.IdleAgentTimeout = TimeSpan.FromSeconds(4);
                options.MaxConcurrencyPerSource = 1;
            },
            clock);
        var agent = new AgentDef("a", 1);
        limiter.TryAcquire(agent, null, out var first).Should().BeTrue();
        first.Dispose();
        limiter.TryAcquire(new AgentDef("b", 1), new AcquireOptions { Source = "s" }, out var sourceHolder).Should().BeTrue();

        // One sweep short of dropping idle gate "a"; the next clock read runs that sweep.
        clock.Advance(TimeSpan.FromSeconds(4));
        clock.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
        var queued = limiter.AcquireAsync(agent, new AcquireOptions { Source = "s" }).ShouldBeWaiting();
        clock.AutoAdvanceAmount = TimeSpan.Zero;

        limiter.GetStatus().Agent("a").Queued.Should().Be(1, "a snapshot lists the waiting request under its agent");
        limiter.TryAcquire(agent, null, out var other).Should().BeTrue();
        sourceHolder.Dispose();
        queued.IsCompleted.Should().BeFalse("agent 'a' has limit 1 and one holder");
        other.Dispose();
        (await queued.WaitAsync(TestSupport.Bound)).Dispose();
    }

    [Fact]
    public async Task Scan_ClockThatRunsTimersWhenATimedRunStarts_NeverLetsATimeoutTakeOutTheRequestItIsAt()
    {
        // Found in review: a run timed for slot.duration reads the clock under the lock as it starts. A TimeProvider that
        // runs due timers when read (FakeTimeProvider with AutoAdvanceAmount) ran a queued request's timeout inside the
        // scan that was granting the request ahead of it; the scan went on to the request that had just left, and threw.
        var clock = new FakeTimeProvider();
        using var timing = new LimiterTimingItsRuns(new AgentConcurrencyOptions { MaxParallelRuns = 1 }, clock);
        var limiter = timing.Limiter;
        await using var holder = await limiter.AcquireAsync(new AgentDef("x", 1));
        var first = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var timingOut = limiter.AcquireAsync(new AgentDef("b", 1), new AcquireOptions { QueueTimeout = TimeSpan.FromSeconds(1) }).ShouldBeWaiting();
        var last = limiter.AcquireAsync(new AgentDef("c", 1)).ShouldBeWaiting();

        clock.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 3 });
        clock.AutoAdvanceAmount = TimeSpan.Zero;

        // The scan granted b before its timeout ran, or the timeout took b out before the scan reached it: either, not both.
        await using var granted = await first.WaitAsync(TestSupport.Bound);
        AgentSlot? handedToB = null;
        try
        {
            handedToB = await timingOut.WaitAsync(TestSupport.Bound);
        }
        catch (ConcurrencyLimitExceededException timedOut)
        {
            timedOut.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
        }

        var status = limiter.GetStatus();
        status.Agents.Sum(a => a.Active).Should().Be(3, "x, a and one of b or c hold the three run slots");
        status.Agents.Sum(a => a.Queued).Should().Be(handedToB is null ? 0 : 1, "c waits only if b took the last run slot");
        handedToB?.Dispose();
        (await last.WaitAsync(TestSupport.Bound)).Dispose();
        limiter.GetStatus().Agents.Sum(a => a.Active).Should().Be(2, "x and a still hold theirs");
    }

    [Fact]
    public async Task Scan_ClockThatRunsTimersWhenATimedRunStarts_NeverLetsACancellationTakeOutTheRequestItIsAt()
    {
        // Found in review: as the queue timeout above, a token whose CancellationTokenSource runs on the limiter's own clock
        // was cancelled inside the scan's clock read; its callback took the next request out of the queue the scan was
        // walking, and the scan took it out again: the queue lost the requests behind it and UpdateOptions threw.
        var clock = new FakeTimeProvider();
        using var timing = new LimiterTimingItsRuns(new AgentConcurrencyOptions { MaxParallelRuns = 1 }, clock);
        var limiter = timing.Limiter;
        await using var holder = await limiter.AcquireAsync(new AgentDef("x", 1));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(1), clock);
        var first = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var canceled = limiter.AcquireAsync(new AgentDef("b", 1), cancellation.Token).ShouldBeWaiting();
        var last = limiter.AcquireAsync(new AgentDef("c", 1)).ShouldBeWaiting();

        clock.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 3 });
        clock.AutoAdvanceAmount = TimeSpan.Zero;

        // The token was cancelled before the scan reached b, so the scan cancels it and grants c instead.
        cancellation.IsCancellationRequested.Should().BeTrue("the scan's clock read ran the token's timer");
        await using var granted = await first.WaitAsync(TestSupport.Bound);
        await FluentActions.Awaiting(() => canceled.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();
        await using var grantedLast = await last.WaitAsync(TestSupport.Bound);
        var status = limiter.GetStatus();
        status.Agents.Sum(a => a.Active).Should().Be(3, "x, a and c hold the three run slots");
        status.QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task Scan_ClockThatRunsATimerReleasingASlot_GivesTheSlotBackOnceTheScanIsDone()
    {
        // Found in review: a host's timer on the limiter's own clock that disposes a slot ran inside the scan's clock read,
        // and its release scanned the queue inside the scan: it granted the request the outer scan was about to reach,
        // which the outer scan then granted a second time.
        var clock = new FakeTimeProvider();
        using var timing = new LimiterTimingItsRuns(new AgentConcurrencyOptions { MaxParallelRuns = 2, MaxConcurrencyPerSource = 1 }, clock);
        var limiter = timing.Limiter;
        var releasedByTimer = new AgentDef("y", 1);
        var sourceHolder = await limiter.AcquireAsync(new AgentDef("x", 1), new AcquireOptions { Source = "s" });
        var timed = await limiter.AcquireAsync(releasedByTimer);
        using var timer = clock.CreateTimer(_ => timed.Dispose(), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        var first = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var second = limiter.AcquireAsync(new AgentDef("b", 2)).ShouldBeWaiting();

        // At an open gate, held back by its source: the outer scan goes on past the first grant because of it.
        var sameSource = limiter.AcquireAsync(new AgentDef("d", 1), new AcquireOptions { Source = "s" }).ShouldBeWaiting();

        clock.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 4, MaxConcurrencyPerSource = 1 });
        clock.AutoAdvanceAmount = TimeSpan.Zero;

        await using var grantedFirst = await first.WaitAsync(TestSupport.Bound);
        await using var grantedSecond = await second.WaitAsync(TestSupport.Bound);

        // Granted only once y's slot is back: the release happened, after the scan.
        await using var afterRelease = await limiter.AcquireAsync(releasedByTimer).AsTask().WaitAsync(TestSupport.Bound);
        var status = limiter.GetStatus();
        status.Agent("b").Active.Should().Be(1, "b was granted once");
        status.Agents.Sum(a => a.Active).Should().Be(4, "x, a, b and y's next run hold the four run slots");
        status.QueuedRequests.Should().Be(1, "d waits for source s");
        sourceHolder.Dispose();
        (await sameSource.WaitAsync(TestSupport.Bound)).Dispose();
    }

    [Fact]
    public async Task Acquire_FromATimerTheLimitersOwnClockReadRuns_ThrowsInsteadOfChangingTheLimiterMidOperation()
    {
        // The same timer calling an acquire would change the queue and the gates in the middle of the operation reading
        // the clock; it is refused with a clear error instead.
        var clock = new FakeTimeProvider();
        using var timing = new LimiterTimingItsRuns(new AgentConcurrencyOptions(), clock);
        var limiter = timing.Limiter;
        Exception? refusal = null;
        using var timer = clock.CreateTimer(
            _ =>
            {
                try
                {
                    limiter.TryAcquire(new AgentDef("nested", 1), null, out AgentSlot _);
                }
                catch (Exception failure)
                {
                    refusal = failure;
                }
            },
            null,
            TimeSpan.FromSeconds(1),
            Timeout.InfiniteTimeSpan);

        clock.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
        await using var slot = await limiter.AcquireAsync(new AgentDef("a", 1));
        clock.AutoAdvanceAmount = TimeSpan.Zero;

        refusal.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("clock");
        limiter.GetStatus().Agents.Should().ContainSingle(a => a.Active == 1).Which.AgentId.Should().Be("a");
    }

    /// <summary>
    /// A limiter on <c>clock</c> whose runs are timed: someone listens to <c>slot.duration</c>, so a run's start reads the
    /// clock under the limiter's lock, where a clock that runs due timers when read runs them.
    /// </summary>
    private sealed class LimiterTimingItsRuns : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MetricCollector<double> _slotDuration;

        public LimiterTimingItsRuns(AgentConcurrencyOptions options, FakeTimeProvider clock)
        {
            var meterFactory = _services.GetRequiredService<IMeterFactory>();
            Limiter = new AgentConcurrencyLimiter(options, clock, null, meterFactory);
            _slotDuration = new MetricCollector<double>(meterFactory, "AgentConcurrency", "agent_concurrency.slot.duration");
        }

        public AgentConcurrencyLimiter Limiter { get; }

        public void Dispose()
        {
            _slotDuration.Dispose();
            Limiter.Dispose();
            _services.Dispose();
        }
    }
}
