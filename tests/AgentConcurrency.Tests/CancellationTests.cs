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
    public async Task AcquireAsync_CancelledAfterGrant_KeepsTheSlot()
    {
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        using var cts = new CancellationTokenSource();
        var waiter = limiter.AcquireAsync(TestSupport.Cookie, cts.Token).ShouldBeWaiting();

        holder.Dispose();
        await cts.CancelAsync();

        var slot = await waiter.WaitAsync(TestSupport.Bound);
        slot.IsHeld.Should().BeTrue("the grant was decided before the cancel");
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
        slot.Dispose();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(0);
    }
}
