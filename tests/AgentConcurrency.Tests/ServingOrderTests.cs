namespace AgentConcurrency.Tests;

public class ServingOrderTests
{
    [Fact]
    public async Task Release_ServesByPriorityThenArrival()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var low1 = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "low1" }).ShouldBeWaiting();
        var high1 = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "high1", Priority = 5 }).ShouldBeWaiting();
        var low2 = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "low2" }).ShouldBeWaiting();
        var high2 = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "high2", Priority = 5 }).ShouldBeWaiting();

        limiter.GetStatus().Agent("cookie").QueuedRequests.Select(q => q.RunId)
            .Should().Equal("high1", "high2", "low1", "low2");

        var served = new List<string?>();
        var current = holder;
        foreach (var next in new[] { high1, high2, low1, low2 })
        {
            current.Dispose();
            current = await next.WaitAsync(TestSupport.Bound);
            served.Add(current.RunId);
        }

        served.Should().Equal("high1", "high2", "low1", "low2");
    }

    [Fact]
    public async Task Release_WaiterBlockedByItsOwnAgent_DoesNotHoldBackOthers()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 2);
        await using var a = await limiter.AcquireAsync(new AgentDef("a", 1));
        var b = await limiter.AcquireAsync(new AgentDef("b", 1));
        var waitingForA = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var waitingForC = limiter.AcquireAsync(new AgentDef("c", 1)).ShouldBeWaiting();

        b.Dispose();

        (await waitingForC.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("c");
        waitingForA.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task Release_WaiterBlockedByItsOwnSession_DoesNotHoldBackOthers()
    {
        using var limiter = TestSupport.CreateLimiter(options =>
        {
            options.MaxParallelSessions = 1;
            options.MaxParallelRuns = 2;
        });
        await using var session = await limiter.AcquireAsync(new AgentDef("a", 5), new AcquireOptions { SessionId = "s1" });
        var other = await limiter.AcquireAsync(new AgentDef("a", 5));
        var newSession = limiter.AcquireAsync(new AgentDef("a", 5), new AcquireOptions { SessionId = "s2" }).ShouldBeWaiting();
        var noSession = limiter.AcquireAsync(new AgentDef("a", 5)).ShouldBeWaiting();

        other.Dispose();

        (await noSession.WaitAsync(TestSupport.Bound)).SessionId.Should().BeNull();
        newSession.IsCompleted.Should().BeFalse("s1 still holds the only session slot");
    }

    [Fact]
    public async Task Release_WaitersOfDifferentAgents_AreServedByPriorityAcrossAgents()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        var holder = await limiter.AcquireAsync(new AgentDef("x", 1));
        var low = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var high = limiter.AcquireAsync(new AgentDef("b", 1), new AcquireOptions { Priority = 2 }).ShouldBeWaiting();

        holder.Dispose();

        (await high.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("b");
        low.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task OnQueued_IsCalledOutsideTheLock_OtherThreadsCanUseTheLimiterMeanwhile()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var seenFromAnotherThread = -1;

        var waiter = limiter.AcquireAsync(
            TestSupport.Cookie,
            new AcquireOptions
            {
                // Blocks this thread until another thread has read the status: a deadlock (and a failed wait) if the lock were held.
                OnQueued = _ => seenFromAnotherThread = Task.Run(() => limiter.GetStatus().QueuedRequests).Wait(TestSupport.Bound)
                    ? 1
                    : 0,
            }).ShouldBeWaiting();

        seenFromAnotherThread.Should().Be(1);
        await holder.DisposeAsync();
        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task Release_OneFreedRun_GoesToTheFirstWaiterInOrderAndNeedsAreWorkedOutDuringTheScan()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        var holder = await limiter.AcquireAsync(new AgentDef("x", 1));
        var first = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        var second = limiter.AcquireAsync(new AgentDef("b", 1)).ShouldBeWaiting();

        holder.Dispose();

        (await first.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("a");
        second.IsCompleted.Should().BeFalse("the first grant took the only run slot");
        limiter.GetStatus().ActiveRuns.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_NewcomerWhileOthersWaitForTheSameCapacity_WaitsBehindThem()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        var holder = await limiter.AcquireAsync(new AgentDef("x", 1));
        var waiter = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();

        holder.Dispose();
        var newcomer = limiter.AcquireAsync(new AgentDef("b", 1), new AcquireOptions { Priority = 100 });

        (await waiter.WaitAsync(TestSupport.Bound)).AgentId.Should().Be("a");
        newcomer.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task OnQueued_WhenTheRequestMustWait_IsCalledOnceWithItsPositionInItsAgentsQueue()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        await using var other = await limiter.AcquireAsync(new AgentDef("other", 1));
        var seen = new List<QueuedRequest>();
        AcquireOptions Options(string runId, int priority = 0) => new() { RunId = runId, Priority = priority, Source = "chat", SessionId = "s-" + runId, OnQueued = seen.Add };

        var first = limiter.AcquireAsync(TestSupport.Cookie, Options("r1")).ShouldBeWaiting();
        var elsewhere = limiter.AcquireAsync(new AgentDef("other", 1), Options("r2")).ShouldBeWaiting();
        var second = limiter.AcquireAsync(TestSupport.Cookie, Options("r3")).ShouldBeWaiting();
        var urgent = limiter.AcquireAsync(TestSupport.Cookie, Options("r4", priority: 1)).ShouldBeWaiting();

        seen.Select(q => (q.AgentId, q.RunId, q.Position)).Should().Equal(
            ("cookie", "r1", 1), ("other", "r2", 1), ("cookie", "r3", 2), ("cookie", "r4", 1));
        seen[0].Should().Match<QueuedRequest>(q => q.Source == "chat" && q.SessionId == "s-r1" && q.Priority == 0);
        seen[3].Priority.Should().Be(1);
    }

    [Fact]
    public async Task OnQueued_GrantedAtOnce_IsNotCalled()
    {
        using var limiter = TestSupport.CreateLimiter();
        var called = 0;

        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { OnQueued = _ => called++ });

        called.Should().Be(0);
    }

    [Fact]
    public async Task OnQueued_Throws_TheRequestLeavesTheQueueAndTheExceptionReachesTheCaller()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var boom = new InvalidOperationException("boom");

        var act = () => limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { OnQueued = _ => throw boom }).AsTask();

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Should().BeSameAs(boom);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task OnQueued_ThrowsAfterItsRequestWasGranted_GivesTheGrantBack()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);

        // The callback releases the holder, so the request is granted before the callback throws.
        var act = () => limiter.AcquireAsync(
            TestSupport.Cookie,
            new AcquireOptions
            {
                OnQueued = _ =>
                {
                    holder.Dispose();
                    throw new InvalidOperationException("late");
                },
            }).AsTask();

        await act.Should().ThrowAsync<InvalidOperationException>();
        var status = limiter.GetStatus();
        status.Agent("cookie").Active.Should().Be(0, "the grant that won the race went back");
        status.QueuedRequests.Should().Be(0);
    }
}
