namespace AgentConcurrency.Tests;

public class RunSlotTests
{
    [Fact]
    public async Task AcquireAsync_SameRunIdSameAgent_JoinsTheRunWithoutASecondPermit()
    {
        using var limiter = TestSupport.CreateLimiter();
        var options = new AcquireOptions { RunId = "r1" };
        var first = await limiter.AcquireAsync(TestSupport.Cookie, options);

        var pending = limiter.AcquireAsync(TestSupport.Cookie, options);

        pending.IsCompletedSuccessfully.Should().BeTrue("a retry of an active run joins it even at the limit");
        var second = await pending;
        second.RunId.Should().Be("r1");
        var status = limiter.GetStatus();
        status.ActiveRuns.Should().Be(1);
        status.Agent("cookie").Active.Should().Be(1);
        first.IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task Dispose_AnySlotOfAJoinedRun_ReleasesTheRun()
    {
        using var limiter = TestSupport.CreateLimiter();
        var options = new AcquireOptions { RunId = "r1" };
        var first = await limiter.AcquireAsync(TestSupport.Cookie, options);
        var second = await limiter.AcquireAsync(TestSupport.Cookie, options);

        second.Dispose();

        first.IsHeld.Should().BeFalse();
        limiter.GetStatus().ActiveRuns.Should().Be(0);
        first.Dispose();
        limiter.GetStatus().ActiveRuns.Should().Be(0, "releasing the run again is a no-op");
    }

    [Fact]
    public async Task AcquireAsync_RunIdActiveForAnotherAgent_ThrowsArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" });

        var act = () => limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { RunId = "r1" }).AsTask();

        (await act.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("options");
        limiter.GetStatus().Agents.Select(a => a.AgentId).Should().Equal(["cookie"], "the failed call took nothing, not even a gate");
    }

    [Fact]
    public async Task AcquireAsync_RunIdTakenWithoutAgent_ThrowsArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();

        var act = () => limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" }).AsTask();

        await act.Should().ThrowAsync<ArgumentException>().WithMessage("*r1*no agent*");
    }

    [Fact]
    public async Task AcquireAsync_RunIdActiveInAnotherSession_ThrowsArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var slot = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1", RunId = "r1" });

        var act = () => limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s2", RunId = "r1" }).AsTask();

        await act.Should().ThrowAsync<ArgumentException>().WithMessage("*session 's1'*");
    }

    [Fact]
    public async Task AcquireAsync_JoinWithoutSessionId_ReportsTheRunsSession()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var first = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s1", RunId = "r1" });

        await using var second = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { RunId = "r1" });

        second.SessionId.Should().Be("s1");
    }

    [Fact]
    public async Task AcquireAsync_EverySlotIsARun_CountsAgainstMaxParallelRunsOverAllAgents()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 2);
        await using var a = await limiter.AcquireAsync(new AgentDef("a", 5));
        await using var b = await limiter.AcquireAsync(new AgentDef("b", 5));

        var third = limiter.AcquireAsync(new AgentDef("c", 5)).ShouldBeWaiting();

        limiter.GetStatus().AvailableRunSlots.Should().Be(0);
        await a.DisposeAsync();
        (await third.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("c");
    }

    [Fact]
    public async Task AcquireAsync_WaiterWhoseRunBecomesActive_JoinsItOnTheNextScan()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxConcurrencyPerSource = 1);
        var agent = new AgentDef("a", 5);
        await using var busy = await limiter.AcquireAsync(agent, new AcquireOptions { Source = "x" });
        var waiter = limiter.AcquireAsync(agent, new AcquireOptions { Source = "x", RunId = "r1" }).ShouldBeWaiting();

        await using var starter = await limiter.AcquireAsync(agent, new AcquireOptions { Source = "y", RunId = "r1" });

        var joined = await waiter.WaitAsync(TestSupport.Bound);
        joined.RunId.Should().Be("r1");
        limiter.GetStatus().Agent("a").Active.Should().Be(2, "the waiter joined r1 rather than starting a run");
    }

    [Fact]
    public async Task AcquireAsync_WaiterWhoseRunBecomesActiveForAnotherAgent_FailsWithArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" }).ShouldBeWaiting();

        await using var other = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { RunId = "r1" });

        await waiter.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ArgumentException>();
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task TryAcquireRunSlot_TakesTheRunIdAWaiterWants_TheWaiterFailsWithArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" }).ShouldBeWaiting();

        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();

        await waiter.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ArgumentException>().WithMessage("*no agent*");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public void TryAcquireRunSlot_SameIdTwice_CountsOnce()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);

        limiter.TryAcquireRunSlot("s1", "r1").Should().BeSameAs(SlotResult.Success);
        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();

        limiter.GetStatus().ActiveRuns.Should().Be(1);
        limiter.TryAcquireRunSlot("s1", "r2").Error.Should().Be(ConcurrencyErrorCode.MaxRunsExceeded);
    }

    [Fact]
    public void TryAcquireRunSlot_OnInactiveSessionWithSessionsFull_FailsWithMaxSessionsExceeded()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = 1);
        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();

        var result = limiter.TryAcquireRunSlot("s2", "r2");

        result.Succeeded.Should().BeFalse();
        result.Error.Should().Be(ConcurrencyErrorCode.MaxSessionsExceeded);
        limiter.TryAcquireRunSlot("s1", "r3").Succeeded.Should().BeTrue("a run on an active session needs no session slot");
        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveSessions == 1 && s.ActiveRuns == 2);
    }

    [Fact]
    public void TryAcquireRunSlot_RunActiveInAnotherSession_ThrowsArgumentException()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireRunSlot("s1", "r1");

        var act = () => limiter.TryAcquireRunSlot("s2", "r1");

        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("runId");
    }

    [Fact]
    public void ReleaseRunSlot_UnknownId_IsANoOp()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireRunSlot("s1", "r1");

        limiter.ReleaseRunSlot("nope");

        limiter.GetStatus().ActiveRuns.Should().Be(1);
    }

    [Fact]
    public void ReleaseRunSlot_Twice_ReleasesTheRunAndItsImplicitSessionOnce()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquireRunSlot("s1", "r1");

        limiter.ReleaseRunSlot("r1");
        limiter.ReleaseRunSlot("r1");

        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0);
    }

    [Fact]
    public async Task ReleaseRunSlot_OfAnAgentRun_GivesThePermitBackAndMakesTheSlotInert()
    {
        using var limiter = TestSupport.CreateLimiter();
        var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" });
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        limiter.ReleaseRunSlot("r1");

        slot.IsHeld.Should().BeFalse();
        var next = await waiter.WaitAsync(TestSupport.Bound);
        slot.Dispose();
        next.IsHeld.Should().BeTrue("the inert slot must not free the waiter's permit");
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task Dispose_StaleSlotAfterItsRunIdWasReused_LeavesTheNewRunHeld()
    {
        using var limiter = TestSupport.CreateLimiter();
        var stale = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" });
        limiter.ReleaseRunSlot("r1");
        var current = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "r1" });

        stale.Dispose();

        current.IsHeld.Should().BeTrue();
        limiter.GetStatus().ActiveRuns.Should().Be(1);
    }
}
