namespace AgentConcurrency.Tests;

public class SessionSlotTests
{
    [Fact]
    public async Task AcquireAsync_SeveralRunsOfOneSession_CountTheSessionOnce()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = 1);

        await using var first = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });
        await using var second = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });

        var status = limiter.GetStatus();
        status.ActiveSessions.Should().Be(1);
        status.ActiveRuns.Should().Be(2);
        status.AvailableSessionSlots.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_SessionsFull_WaitsForANewSessionUntilOneEnds()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = 1);
        var first = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });

        var second = limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s2" }).ShouldBeWaiting();
        limiter.GetStatus().Agent("pickle").Active.Should().Be(1, "the waiter holds no agent permit while it waits");

        first.Dispose();
        (await second.WaitAsync(TestSupport.Bound)).SessionId.Should().Be("s2");
    }

    [Fact]
    public async Task Dispose_LastRunOfImplicitSession_ReleasesTheSession()
    {
        using var limiter = TestSupport.CreateLimiter();
        var first = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });
        var second = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });

        first.Dispose();
        limiter.GetStatus().ActiveSessions.Should().Be(1);
        second.Dispose();

        limiter.GetStatus().ActiveSessions.Should().Be(0);
    }

    [Fact]
    public async Task TryAcquireSessionSlot_Pinned_StaysActiveAfterItsRunsEnd()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        var slot = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });

        slot.Dispose();

        limiter.GetStatus().ActiveSessions.Should().Be(1);
    }

    [Fact]
    public void TryAcquireSessionSlot_Twice_CountsOnceAndOneReleaseFreesIt()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = 1);

        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        limiter.GetStatus().ActiveSessions.Should().Be(1);

        limiter.ReleaseSessionSlot("s1");
        limiter.GetStatus().ActiveSessions.Should().Be(0);
    }

    [Fact]
    public void TryAcquireSessionSlot_SessionsFull_FailsWithMaxSessionsExceeded()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = 1);
        limiter.TryAcquireSessionSlot("s1");

        var result = limiter.TryAcquireSessionSlot("s2");

        result.Should().BeSameAs(SlotResult.Failed(ConcurrencyErrorCode.MaxSessionsExceeded));
        limiter.GetStatus().ActiveSessions.Should().Be(1);
    }

    [Fact]
    public async Task TryAcquireSessionSlot_OnImplicitSession_PinsIt()
    {
        using var limiter = TestSupport.CreateLimiter();
        var slot = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1" });

        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        slot.Dispose();

        limiter.GetStatus().ActiveSessions.Should().Be(1);
    }

    [Fact]
    public async Task ReleaseSessionSlot_FailsItsWaitersThenReleasesItsRunsAndAdmitsOthers()
    {
        using var limiter = TestSupport.CreateLimiter();
        var run = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1", RunId = "r1" });
        var sameSession = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" }).ShouldBeWaiting();
        var otherSession = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s2" }).ShouldBeWaiting();

        limiter.ReleaseSessionSlot("s1");

        var failure = await sameSession.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        failure.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.SessionReleased);
        failure.Which.AgentId.Should().Be("cookie");
        (await otherSession.WaitAsync(TestSupport.Bound)).SessionId.Should().Be("s2");
        run.IsHeld.Should().BeFalse();
        run.Dispose();
        var status = limiter.GetStatus();
        status.Agent("cookie").Active.Should().Be(1, "the inert slot must not free s2's permit");
        status.ActiveSessions.Should().Be(1);
    }

    [Fact]
    public void ReleaseSessionSlot_ReleasesAgentlessRunsToo()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireSessionSlot("s1");
        limiter.TryAcquireRunSlot("s1", "r1");
        limiter.TryAcquireRunSlot("s1", "r2");

        limiter.ReleaseSessionSlot("s1");

        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0);
        limiter.TryAcquireRunSlot("s9", "r1").Succeeded.Should().BeTrue("the run id is free again");
    }

    [Fact]
    public async Task ReleaseSessionSlot_QueuedOnly_FailsTheWaiters()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" }).ShouldBeWaiting();

        limiter.ReleaseSessionSlot("s1");

        (await waiter.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>())
            .Which.ErrorCode.Should().Be(ConcurrencyErrorCode.SessionReleased);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task ReleaseSessionSlot_UnknownId_ChangesNothing()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" });

        limiter.ReleaseSessionSlot("unknown");

        slot.IsHeld.Should().BeTrue();
        limiter.GetStatus().ActiveSessions.Should().Be(1);
    }
}
