using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

public class WhenFullTests
{
    [Fact]
    public async Task AcquireAsync_Waiting_HoldsNoPartOfWhatItNeeds()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        var other = await limiter.AcquireAsync(TestSupport.Pickle);

        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 0 && a.Queued == 1);
        limiter.TryAcquire(TestSupport.Cookie, null, out _).Should().BeFalse("the runs limit still blocks");
        other.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("cookie");
    }

    [Fact]
    public async Task AcquireAsync_RejectMode_ReportsTheFirstBlockingLimitInContractOrder()
    {
        using var limiter = TestSupport.CreateLimiter(options =>
        {
            options.WhenFull = QueueFullMode.Reject;
            options.MaxParallelRuns = 2;
            options.MaxParallelSessions = 1;
            options.MaxConcurrencyPerSource = 1;
        });
        var agent = new AgentDef("a", 1);
        await using var held = await limiter.AcquireAsync(agent, new AcquireOptions { SessionId = "s1", Source = "x" });
        var everything = new AcquireOptions { SessionId = "s2", Source = "x" };

        (await Refusal(limiter.AcquireAsync(agent, everything))).Should().Be(ConcurrencyErrorCode.AgentLimitReached);
        (await Refusal(limiter.AcquireAsync(new AgentDef("b", 1), everything))).Should().Be(ConcurrencyErrorCode.SourceLimitReached);
        (await Refusal(limiter.AcquireAsync(new AgentDef("b", 1), new AcquireOptions { SessionId = "s2", Source = "y" })))
            .Should().Be(ConcurrencyErrorCode.MaxSessionsExceeded);
        await using var second = await limiter.AcquireAsync(new AgentDef("b", 1), new AcquireOptions { Source = "y" });
        (await Refusal(limiter.AcquireAsync(new AgentDef("c", 1)))).Should().Be(ConcurrencyErrorCode.MaxRunsExceeded);
        limiter.GetStatus().QueuedRequests.Should().Be(0, "rejected requests never queue");
    }

    [Fact]
    public async Task AcquireAsync_RejectModeWithSessionsAndRunsBothFull_ReportsMaxSessionsExceeded()
    {
        using var limiter = TestSupport.CreateLimiter(options =>
        {
            options.WhenFull = QueueFullMode.Reject;
            options.MaxParallelRuns = 1;
            options.MaxParallelSessions = 1;
        });
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" });

        (await Refusal(limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s2" })))
            .Should().Be(ConcurrencyErrorCode.MaxSessionsExceeded);
        (await Refusal(limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" })))
            .Should().Be(ConcurrencyErrorCode.MaxRunsExceeded, "an active session needs no session slot");
    }

    [Fact]
    public async Task AcquireAsync_LimiterQueueTimeoutZero_FailsAtOnceWhenItWouldWait()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.Zero);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);

        var pending = limiter.AcquireAsync(TestSupport.Cookie);

        pending.IsCompleted.Should().BeTrue();
        (await Refusal(pending)).Should().Be(ConcurrencyErrorCode.QueueTimeout);
    }

    [Fact]
    public async Task AcquireAsync_TimeSpentInOnQueuedCountsAgainstTheTimeout()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);

        var pending = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { OnQueued = _ => time.Advance(TimeSpan.FromSeconds(6)) });

        (await Refusal(pending)).Should().Be(ConcurrencyErrorCode.QueueTimeout);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_TimerFiresAfterTheGrant_IsIgnored()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        // Advance at once, before the waiter's caller resumes and disposes its timer: the firing is stale.
        held.Dispose();
        time.Advance(TimeSpan.FromSeconds(10));

        var granted = await waiter.WaitAsync(TestSupport.Bound);
        granted.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_RejectMode_RejectionCarriesTheAgentId()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.WhenFull = QueueFullMode.Reject);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);

        var act = () => limiter.AcquireAsync(TestSupport.Cookie).AsTask();

        var failure = await act.Should().ThrowAsync<ConcurrencyLimitExceededException>().WithMessage("*cookie*AgentLimitReached*");
        failure.Which.AgentId.Should().Be("cookie");
    }

    [Fact]
    public async Task AcquireAsync_QueueLimitReached_FailsWithQueueFull()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueLimit = 1);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var queued = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        (await Refusal(limiter.AcquireAsync(TestSupport.Cookie))).Should().Be(ConcurrencyErrorCode.QueueFull);

        limiter.GetStatus().Agent("cookie").Queued.Should().Be(1);
        limiter.AcquireAsync(TestSupport.Pickle).IsCompletedSuccessfully.Should().BeTrue("the queue limit is per agent");
        queued.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task AcquireAsync_QueueLimitZero_NeverWaitsButStillGrantsWithRoom()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueLimit = 0);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);

        (await Refusal(limiter.AcquireAsync(TestSupport.Cookie))).Should().Be(ConcurrencyErrorCode.QueueFull);
    }

    [Fact]
    public async Task AcquireAsync_WaitLongerThanQueueTimeout_FailsWithQueueTimeoutAndLeavesTheQueue()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        time.Advance(TimeSpan.FromSeconds(4.9));
        waiter.IsCompleted.Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(0.1));

        var failure = await waiter.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        failure.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        held.IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task AcquireAsync_RequestQueueTimeout_OverridesTheLimiters()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var patient = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = Timeout.InfiniteTimeSpan }).ShouldBeWaiting();
        var hasty = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = TimeSpan.FromSeconds(1) }).ShouldBeWaiting();

        time.Advance(TimeSpan.FromSeconds(1));
        (await Refusal(hasty)).Should().Be(ConcurrencyErrorCode.QueueTimeout);

        time.Advance(TimeSpan.FromMinutes(10));
        patient.IsCompleted.Should().BeFalse();
        await held.DisposeAsync();
        (await patient.WaitAsync(TestSupport.Bound)).WaitTime.Should().Be(TimeSpan.FromSeconds(601));
    }

    [Fact]
    public async Task AcquireAsync_ZeroQueueTimeout_FailsAtOnceWithoutCallingOnQueued()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var called = false;

        var pending = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = TimeSpan.Zero, OnQueued = _ => called = true });

        pending.IsCompleted.Should().BeTrue();
        (await Refusal(pending)).Should().Be(ConcurrencyErrorCode.QueueTimeout);
        called.Should().BeFalse();
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_ZeroQueueTimeoutWithRoom_Grants()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.Zero);

        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie);

        slot.IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task AcquireAsync_GrantedBeforeTimeout_KeepsItsSlotWhenTheTimeoutWouldHaveFired()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        time.Advance(TimeSpan.FromSeconds(2));

        held.Dispose();
        var granted = await waiter.WaitAsync(TestSupport.Bound);
        time.Advance(TimeSpan.FromSeconds(10));

        granted.IsHeld.Should().BeTrue();
        granted.WaitTime.Should().Be(TimeSpan.FromSeconds(2));
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_SourceLimit_HoldsOneSourceToItsShareOverAllAgents()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxConcurrencyPerSource = 2);
        var noisy = new AcquireOptions { Source = "noisy" };
        await using var a = await limiter.AcquireAsync(new AgentDef("a", 5), noisy);
        await using var b = await limiter.AcquireAsync(new AgentDef("b", 5), noisy);

        var third = limiter.AcquireAsync(new AgentDef("c", 5), noisy).ShouldBeWaiting();
        var quiet = limiter.AcquireAsync(new AgentDef("c", 5), new AcquireOptions { Source = "quiet" });

        quiet.IsCompletedSuccessfully.Should().BeTrue("a waiter blocked by its own source does not hold back others");
        await a.DisposeAsync();
        (await third.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("c");
    }

    private static async Task<ConcurrencyErrorCode> Refusal(ValueTask<AgentSlot> pending) => await Refusal(pending.AsTask());

    private static async Task<ConcurrencyErrorCode> Refusal(Task<AgentSlot> pending)
    {
        var act = () => pending.WaitAsync(TestSupport.Bound);
        return (await act.Should().ThrowAsync<ConcurrencyLimitExceededException>()).Which.ErrorCode;
    }
}
