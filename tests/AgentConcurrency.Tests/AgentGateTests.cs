namespace AgentConcurrency.Tests;

public class AgentGateTests
{
    [Fact]
    public async Task AcquireAsync_BelowLimit_GrantsSynchronouslyWithoutWaitTime()
    {
        using var limiter = TestSupport.CreateLimiter();

        var pending = limiter.AcquireAsync(TestSupport.Pickle);

        pending.IsCompletedSuccessfully.Should().BeTrue();
        var slot = await pending;
        slot.AgentId.Should().Be("pickle");
        slot.WaitTime.Should().Be(TimeSpan.Zero);
        slot.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("pickle").Active.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_LimitReached_WaitsUntilSlotDisposed()
    {
        using var limiter = TestSupport.CreateLimiter();
        var first = await limiter.AcquireAsync(TestSupport.Cookie);

        var second = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        limiter.GetStatus().Agent("cookie").Queued.Should().Be(1);

        await first.DisposeAsync();
        var granted = await second.WaitAsync(TestSupport.Bound);

        granted.IsHeld.Should().BeTrue();
        var status = limiter.GetStatus().Agent("cookie");
        status.Active.Should().Be(1);
        status.Queued.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_OtherAgentFull_DoesNotWait()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var cookie = await limiter.AcquireAsync(TestSupport.Cookie);

        var pickle = limiter.AcquireAsync(TestSupport.Pickle);

        pickle.IsCompletedSuccessfully.Should().BeTrue();
    }

    [Fact]
    public void AcquireAsync_AgentLimitsOverride_UsesConfiguredLimit()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.AgentLimits["pickle"] = 1);

        limiter.TryAcquire(TestSupport.Pickle, null, out _).Should().BeTrue();

        limiter.TryAcquire(TestSupport.Pickle, null, out _).Should().BeFalse("the override of 1 wins over MaxConcurrency 3");
        limiter.GetStatus().Agent("pickle").Limit.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_LimitGrows_AdmitsWaitersBeforeTheCallerThatGrewIt()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(new AgentDef("a", 1));
        var waiter = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();

        var grower = limiter.AcquireAsync(new AgentDef("a", 2));

        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
        grower.IsCompleted.Should().BeFalse("the waiter took the new room first");
        limiter.GetStatus().Agent("a").Should().Match<AgentStatus>(a => a.Limit == 2 && a.Active == 2 && a.Queued == 1);
    }

    [Fact]
    public async Task AcquireAsync_LimitShrinks_HoldersFinishAndNobodyIsAdmittedUntilBelowNewLimit()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holders = new[]
        {
            await limiter.AcquireAsync(new AgentDef("a", 3)),
            await limiter.AcquireAsync(new AgentDef("a", 3)),
            await limiter.AcquireAsync(new AgentDef("a", 3)),
        };

        var waiter = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();
        holders.Should().OnlyContain(slot => slot.IsHeld, "shrinking never takes a slot away");

        holders[0].Dispose();
        holders[1].Dispose();
        waiter.IsCompleted.Should().BeFalse("one holder is still active and the limit is 1");

        holders[2].Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("a").Active.Should().Be(1);
    }

    [Fact]
    public async Task TryAcquire_LimitGrows_AdmitsWaitersBeforeTheCallerThatGrewIt()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(new AgentDef("a", 1));
        var waiter = limiter.AcquireAsync(new AgentDef("a", 1)).ShouldBeWaiting();

        limiter.TryAcquire(new AgentDef("a", 2), null, out _).Should().BeFalse("the waiter took the new room first");

        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
    }

    [Fact]
    public void TryAcquire_LimitReached_ReturnsFalseAndTheDefaultSlot()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var first).Should().BeTrue();

        limiter.TryAcquire(TestSupport.Cookie, null, out var second).Should().BeFalse();

        second.Should().Be(default(AgentSlot));
        second.IsHeld.Should().BeFalse();
        first.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Queued.Should().Be(0, "TryAcquire never queues");
    }

    [Fact]
    public async Task TryAcquire_WithWaiterAhead_DoesNotBargePastIt()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var holder).Should().BeTrue();
        var waiter = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        holder.Dispose();

        limiter.TryAcquire(TestSupport.Cookie, null, out _).Should().BeFalse("the released slot went to the waiter");
        (await waiter.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue();
    }

    [Fact]
    public void Dispose_Twice_ReleasesOnce()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Pickle, null, out var first).Should().BeTrue();
        limiter.TryAcquire(TestSupport.Pickle, null, out _).Should().BeTrue();

        first.Dispose();
        first.Dispose();
        var copy = first;
        copy.Dispose();

        limiter.GetStatus().Agent("pickle").Active.Should().Be(1);
        first.IsHeld.Should().BeFalse();
    }

    [Fact]
    public void Dispose_StaleSlotAfterItsRecordWasReused_LeavesTheNewRunHeld()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var stale).Should().BeTrue();
        stale.Dispose();
        limiter.TryAcquire(TestSupport.Cookie, null, out var current).Should().BeTrue();

        stale.Dispose();

        current.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public void DefaultSlot_Dispose_DoesNothing()
    {
        var slot = default(AgentSlot);

        slot.Dispose();

        slot.IsHeld.Should().BeFalse();
        slot.AgentId.Should().BeEmpty();
    }
}
