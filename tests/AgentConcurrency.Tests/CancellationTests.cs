using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

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

        outcomes.Should().NotBeEmpty();
    }

    [Fact]
    public async Task AcquireAsync_CancelLandingAfterTheGrantIsDecidedButBeforeItIsHandedOver_WinsAndThePermitGoesToTheNextWaiter()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var limiter = new AgentConcurrencyLimiter(null, null, null, meterFactory);
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();
        var racer = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();
        var next = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        // The racer's run start is recorded after the lock that granted it and before its caller's task is completed:
        // cancelling there forces the cancel into the gap between the decision and the hand-over.
        using var listener = TestSupport.OnActiveSlotsChange(meterFactory, change =>
        {
            if (change == 1)
            {
                cts.Cancel();
            }
        });

        holder.Dispose();

        (await racer.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>())
            .Which.CancellationToken.Should().Be(cts.Token);
        await using var nextSlot = await next.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0, "the racer's permit went to the next waiter");
    }

    [Fact]
    public async Task AcquireAsync_CancelAfterTheGrantWasHandedOver_ChangesNothing()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();
        var racer = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();

        holder.Dispose();
        await cts.CancelAsync();

        await using var slot = await racer.WaitAsync(TestSupport.Bound);
        slot.IsHeld.Should().BeTrue("the grant was handed over before the cancel, so the caller has its slot");
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
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
