namespace AgentConcurrency.Tests;

public class CancellationTests
{
    [Fact]
    public async Task AcquireAsync_AlreadyCancelledToken_FailsAtOnceEvenWithRoom()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var pending = limiter.AcquireAsync(TestSupport.Cookie, cts.Token);

        pending.IsCanceled.Should().BeTrue();
        (await pending.Awaiting(p => p.AsTask()).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cts.Token);
        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaiting_ThrowsWithTheTokenAndIsOutOfTheStatusFirst()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();
        var next = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        await cts.CancelAsync();

        var statusWhenCallerSaw = -1;
        try
        {
            await waiter.WaitAsync(TestSupport.Bound);
        }
        catch (OperationCanceledException ex)
        {
            statusWhenCallerSaw = limiter.GetStatus().Agent("cookie").Queued;
            ex.CancellationToken.Should().Be(cts.Token);
        }

        statusWhenCallerSaw.Should().Be(1, "only the other waiter is left");
        holder.Dispose();
        (await next.WaitAsync(TestSupport.Bound)).IsHeld.Should().BeTrue("the cancelled waiter did not take the permit");
    }

    [Fact]
    public async Task AcquireAsync_CancelledAfterTheCallerHasItsSlot_KeepsTheSlot()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();

        holder.Dispose();
        var slot = await waiter.WaitAsync(TestSupport.Bound);
        await cts.CancelAsync();

        slot.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_CancelRacingAGrant_EitherKeepsTheSlotOrHandsThePermitToTheNextWaiter()
    {
        var outcomes = new HashSet<string>();
        for (var i = 0; i < 200; i++)
        {
            using var limiter = TestSupport.CreateLimiter();
            var holder = await limiter.AcquireAsync(TestSupport.Cookie);
            using var cts = new CancellationTokenSource();
            var racer = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();
            var next = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

            // The release grants the racer under the lock; the cancel lands before or after its caller resumes.
            holder.Dispose();
            await cts.CancelAsync();

            try
            {
                var slot = await racer.WaitAsync(TestSupport.Bound);
                outcomes.Add("kept");
                next.IsCompleted.Should().BeFalse("the racer holds the only permit");
                slot.Dispose();
            }
            catch (OperationCanceledException ex)
            {
                outcomes.Add("cancelled");
                ex.CancellationToken.Should().Be(cts.Token);
            }

            (await next.WaitAsync(TestSupport.Bound)).Dispose();
            limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 0 && a.Queued == 0, "no permit was lost or doubled");
        }

        outcomes.Should().Contain("cancelled", "a cancel that lands before the caller resumes wins");
    }

    [Fact]
    public async Task AcquireAsync_TokenCancelledInsideOnQueued_FailsAndLeavesTheQueue()
    {
        using var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();

        var act = () => limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { OnQueued = _ => cts.Cancel() }, cts.Token).AsTask();

        (await act.Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cts.Token);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public void AcquireAsync_AlreadyCancelledTokenAfterDisposal_ThrowsObjectDisposedException()
    {
        var limiter = TestSupport.CreateLimiter();
        limiter.Dispose();

        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie, new CancellationToken(canceled: true)))
            .Should().Throw<ObjectDisposedException>();
    }
}
