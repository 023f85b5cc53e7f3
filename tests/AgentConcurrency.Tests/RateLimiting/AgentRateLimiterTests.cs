using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.RateLimiting;

/// <summary>
/// <see cref="AgentConcurrencyLimiter.AsRateLimiter"/>, one scenario per test, after the runtime's own tests of
/// <see cref="ConcurrencyLimiter"/>: what it shares with the limiter, and each point of ConcurrencyLimiter's behaviour.
/// </summary>
public class AgentRateLimiterTests
{
    private static readonly AgentDef Pair = new("pair", 2);

    [Fact]
    public void AttemptAcquire_TakesASlotOfTheAgentFromTheSharedGate()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(Pair);

        using var lease = rateLimiter.AttemptAcquire();

        lease.IsAcquired.Should().BeTrue();
        limiter.GetStatus().Agent("pair").Active.Should().Be(1);
        limiter.TryAcquire(Pair, null, out var direct).Should().BeTrue("the gate has two slots");
        rateLimiter.AttemptAcquire().IsAcquired.Should().BeFalse("the limiter's own acquire took the second slot");
        direct.Dispose();
    }

    [Fact]
    public void AttemptAcquire_WhenFull_FailsAtOnceWithTheBlockingLimitAsReason()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();

        using var refused = rateLimiter.AttemptAcquire();

        refused.IsAcquired.Should().BeFalse();
        refused.ReasonPhrase().Should().Be(nameof(ConcurrencyErrorCode.AgentLimitReached));
        refused.MetadataNames.Should().Equal(MetadataName.ReasonPhrase.Name);
        limiter.GetStatus().QueuedRequests.Should().Be(0, "AttemptAcquire never waits");
    }

    [Fact]
    public void AttemptAcquire_WhenTheRunsLimitIsFull_FailsWithMaxRunsExceeded()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Pickle);
        limiter.TryAcquire(TestSupport.Cookie, null, out var other).Should().BeTrue();

        using var refused = rateLimiter.AttemptAcquire();

        refused.ReasonPhrase().Should().Be(nameof(ConcurrencyErrorCode.MaxRunsExceeded), "the adapter shares the global run limit");
        other.Dispose();
        rateLimiter.AttemptAcquire().IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task AcquireAsync_WhenFree_CompletesSynchronouslyWithAnAcquiredLease()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);

        var pending = rateLimiter.AcquireAsync();

        pending.IsCompletedSuccessfully.Should().BeTrue();
        using var lease = await pending;
        lease.IsAcquired.Should().BeTrue();
        lease.MetadataNames.Should().BeEmpty();
    }

    [Fact]
    public async Task AcquireAsync_WhenFull_QueuesAndIsGrantedWhenTheSlotIsReleased()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        var held = rateLimiter.AttemptAcquire();

        var waiting = rateLimiter.AcquireAsync().ShouldBeWaiting();
        limiter.GetStatus().Agent("cookie").Queued.Should().Be(1, "the request waits in the limiter's own queue");
        held.Dispose();

        using var lease = await waiting.WaitAsync(TestSupport.Bound);
        lease.IsAcquired.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_SharesOneQueueWithTheLimitersAcquire_InArrivalOrder()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var first = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        var second = rateLimiter.AcquireAsync().ShouldBeWaiting();

        held.Dispose();
        var firstSlot = await first.WaitAsync(TestSupport.Bound);
        second.IsCompleted.Should().BeFalse("the limiter's own waiter came first");
        firstSlot.Dispose();

        using var lease = await second.WaitAsync(TestSupport.Bound);
        lease.IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task AcquireAsync_WithOptions_WaitsWithTheirPriority()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var urgent = limiter.AsRateLimiter(TestSupport.Cookie, new AcquireOptions { Priority = 10 });
        var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var ordinary = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        var priority = urgent.AcquireAsync().ShouldBeWaiting();

        held.Dispose();

        using var lease = await priority.WaitAsync(TestSupport.Bound);
        lease.IsAcquired.Should().BeTrue();
        ordinary.IsCompleted.Should().BeFalse("the adapter's requests carry priority 10");
        lease.Dispose();
        (await ordinary.WaitAsync(TestSupport.Bound)).Dispose();
    }

    [Fact]
    public void AttemptAcquire_ZeroPermits_SucceedsWhileASlotIsFreeAndHoldsNothing()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);

        using var lease = rateLimiter.AttemptAcquire(0);

        lease.IsAcquired.Should().BeTrue();
        limiter.GetStatus().Agents.Should().NotContain(a => a.AgentId == "cookie" && a.Active > 0);
        rateLimiter.GetStatistics()!.CurrentAvailablePermits.Should().Be(1);
    }

    [Fact]
    public void AttemptAcquire_ZeroPermits_FailsWhenNoSlotIsFree()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();

        using var lease = rateLimiter.AttemptAcquire(0);

        lease.IsAcquired.Should().BeFalse();
        lease.ReasonPhrase().Should().Be(nameof(ConcurrencyErrorCode.AgentLimitReached));
    }

    [Fact]
    public async Task AcquireAsync_ZeroPermits_SucceedsAtOnceWhenASlotIsFree()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);

        var pending = rateLimiter.AcquireAsync(0);

        pending.IsCompletedSuccessfully.Should().BeTrue();
        (await pending).IsAcquired.Should().BeTrue();
        rateLimiter.GetStatistics()!.CurrentAvailablePermits.Should().Be(1, "zero permits hold nothing");
    }

    [Fact]
    public async Task AcquireAsync_ZeroPermits_WaitsForItsTurnAndPassesTheSlotOn()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        var held = await limiter.AcquireAsync(TestSupport.Cookie);
        var zero = rateLimiter.AcquireAsync(0).ShouldBeWaiting();
        var next = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        held.Dispose();

        (await zero.WaitAsync(TestSupport.Bound)).IsAcquired.Should().BeTrue();
        using var nextSlot = await next.WaitAsync(TestSupport.Bound);
        nextSlot.IsHeld.Should().BeTrue("the zero-permit request handed the slot it was admitted with to the next waiter");
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-1)]
    public async Task Acquire_PermitCountOtherThanZeroOrOne_ThrowsNamingPermitCount(int permitCount)
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Pickle);

        rateLimiter.Invoking(r => r.AttemptAcquire(permitCount))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("permitCount");
        (await rateLimiter.Awaiting(r => r.AcquireAsync(permitCount).AsTask())
            .Should().ThrowAsync<ArgumentOutOfRangeException>()).Which.ParamName.Should().Be("permitCount");
        limiter.GetStatus().Agents.Should().NotContain(a => a.Active > 0 || a.Queued > 0, "nothing half-done is left behind");
    }

    [Fact]
    public async Task AcquireAsync_Canceled_ThrowsTaskCanceledCarryingTheTokenAndLeavesTheQueue()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        var held = rateLimiter.AttemptAcquire();
        using var cancellation = new CancellationTokenSource();
        var waiting = rateLimiter.AcquireAsync(1, cancellation.Token).ShouldBeWaiting();

        await cancellation.CancelAsync();

        var thrown = await waiting.Awaiting(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<TaskCanceledException>();
        thrown.Which.CancellationToken.Should().Be(cancellation.Token);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        held.Dispose();
        limiter.GetStatus().Agents.Should().NotContain(a => a.Active > 0, "a canceled request is never granted");
    }

    [Fact]
    public async Task AcquireAsync_AlreadyCanceledToken_ThrowsTaskCanceledCarryingTheToken_EvenWithASlotFree()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        var thrown = await rateLimiter.Awaiting(r => r.AcquireAsync(1, cancellation.Token).AsTask()).Should().ThrowAsync<TaskCanceledException>();

        thrown.Which.CancellationToken.Should().Be(cancellation.Token, "as every RateLimiter, whose AcquireAsync checks the token first");
        rateLimiter.GetStatistics()!.Should().Match<RateLimiterStatistics>(
            s => s.CurrentAvailablePermits == 1 && s.TotalFailedLeases == 0, "nothing was taken, and a cancellation is no failed lease");
    }

    [Fact]
    public async Task AcquireAsync_QueueFull_GivesAFailedLeaseWithQueueLimitReached()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueLimit = 1);
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();
        var queued = rateLimiter.AcquireAsync().ShouldBeWaiting();

        using var refused = await rateLimiter.AcquireAsync().Within();

        refused.IsAcquired.Should().BeFalse("a full queue is a failed lease, not an exception");
        refused.ReasonPhrase().Should().Be("Queue limit reached");
        queued.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task AcquireAsync_QueueTimeout_GivesAFailedLeaseNamingTheErrorCode()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5), time);
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();
        var waiting = rateLimiter.AcquireAsync().ShouldBeWaiting();

        time.Advance(TimeSpan.FromSeconds(5));

        using var lease = await waiting.WaitAsync(TestSupport.Bound);
        lease.IsAcquired.Should().BeFalse();
        lease.ReasonPhrase().Should().Be(nameof(ConcurrencyErrorCode.QueueTimeout));
    }

    [Fact]
    public async Task AcquireAsync_RejectMode_GivesAFailedLeaseAtOnce()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.WhenFull = QueueFullMode.Reject);
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();

        var pending = rateLimiter.AcquireAsync();

        pending.IsCompleted.Should().BeTrue();
        using var lease = await pending;
        lease.ReasonPhrase().Should().Be(nameof(ConcurrencyErrorCode.AgentLimitReached));
    }

    [Fact]
    public void Lease_DisposedTwice_ReleasesOnce()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(Pair);
        var lease = rateLimiter.AttemptAcquire();
        using var other = rateLimiter.AttemptAcquire();

        lease.Dispose();
        lease.Dispose();

        limiter.GetStatus().Agent("pair").Active.Should().Be(1, "the second lease still holds its slot");
    }

    [Fact]
    public async Task Dispose_FailsQueuedRequestsWithFailedLeases()
    {
        using var limiter = TestSupport.CreateLimiter();
        var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();
        var waiting = rateLimiter.AcquireAsync().ShouldBeWaiting();
        using var callerToken = new CancellationTokenSource();
        var waitingWithToken = rateLimiter.AcquireAsync(1, callerToken.Token).ShouldBeWaiting();

        rateLimiter.Dispose();

        (await waiting.WaitAsync(TestSupport.Bound)).IsAcquired.Should().BeFalse();
        (await waitingWithToken.WaitAsync(TestSupport.Bound)).IsAcquired.Should().BeFalse("the caller did not cancel; the adapter went away");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public async Task Dispose_LaterCallsThrowObjectDisposed()
    {
        using var limiter = TestSupport.CreateLimiter();
        var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);

        await rateLimiter.DisposeAsync();

        rateLimiter.Invoking(r => r.AttemptAcquire()).Should().Throw<ObjectDisposedException>();
        await rateLimiter.Awaiting(r => r.AcquireAsync().AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        rateLimiter.Invoking(r => r.GetStatistics()).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task Dispose_LeavesTheSharedLimiterAndTheLeasesItGave()
    {
        using var limiter = TestSupport.CreateLimiter();
        var rateLimiter = limiter.AsRateLimiter(Pair);
        var lease = rateLimiter.AttemptAcquire();

        rateLimiter.Dispose();

        limiter.GetStatus().Agent("pair").Active.Should().Be(1, "a lease given before disposal still holds its slot");
        await using (await limiter.AcquireAsync(Pair).Within())
        {
            limiter.GetStatus().Agent("pair").Active.Should().Be(2, "the limiter itself still works");
        }

        lease.Dispose();
        limiter.GetStatus().Agent("pair").Active.Should().Be(0);
    }

    [Fact]
    public async Task SharedLimiterDisposed_FailsQueuedRequestsWithFailedLeasesAndLaterCallsThrow()
    {
        var limiter = TestSupport.CreateLimiter();
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var held = rateLimiter.AttemptAcquire();
        var waiting = rateLimiter.AcquireAsync().ShouldBeWaiting();

        limiter.Dispose();

        (await waiting.WaitAsync(TestSupport.Bound)).IsAcquired.Should().BeFalse();
        rateLimiter.Invoking(r => r.AttemptAcquire()).Should().Throw<ObjectDisposedException>();
        await rateLimiter.Awaiting(r => r.AcquireAsync().AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        rateLimiter.GetStatistics()!.TotalFailedLeases.Should().Be(0, "requests failed by disposal are not counted, as in ConcurrencyLimiter");
    }

    [Fact]
    public async Task GetStatistics_ReportsAvailableQueuedAndLeaseTotals_InANewObjectEachCall()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueLimit = 1);
        using var rateLimiter = limiter.AsRateLimiter(Pair);
        using var first = rateLimiter.AttemptAcquire();
        using var direct = await limiter.AcquireAsync(Pair);
        using var refused = rateLimiter.AttemptAcquire();
        var waiting = limiter.AcquireAsync(Pair).ShouldBeWaiting();

        var statistics = rateLimiter.GetStatistics()!;

        statistics.CurrentAvailablePermits.Should().Be(0);
        statistics.CurrentQueuedCount.Should().Be(1, "the gate's queue, whoever queued");
        statistics.TotalSuccessfulLeases.Should().Be(1, "leases this adapter gave");
        statistics.TotalFailedLeases.Should().Be(1);
        rateLimiter.GetStatistics().Should().NotBeSameAs(statistics);
        direct.Dispose();
        (await waiting.WaitAsync(TestSupport.Bound)).Dispose();
    }

    [Fact]
    public async Task IdleDuration_IsNullWhileAnySlotIsHeld_AndCountsFromTheLastRelease()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(timeProvider: time);
        using var rateLimiter = limiter.AsRateLimiter(Pair);
        var lease = rateLimiter.AttemptAcquire();
        rateLimiter.IdleDuration.Should().BeNull();
        var direct = await limiter.AcquireAsync(Pair);
        lease.Dispose();
        rateLimiter.IdleDuration.Should().BeNull("a slot taken through the limiter itself is held too");

        time.Advance(TimeSpan.FromSeconds(3));
        direct.Dispose();
        time.Advance(TimeSpan.FromSeconds(2));

        rateLimiter.IdleDuration.Should().Be(TimeSpan.FromSeconds(5), "the adapter last saw the agent busy 5 s ago");
    }

    [Fact]
    public async Task IdleDuration_IsNullWhileTheAgentHasWaiters_EvenWithNothingActive()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 1);
        using var rateLimiter = limiter.AsRateLimiter(TestSupport.Cookie);
        using var other = await limiter.AcquireAsync(TestSupport.Pickle);

        var waiting = rateLimiter.AcquireAsync().ShouldBeWaiting();

        limiter.GetStatus().Agent("cookie").Active.Should().Be(0, "the runs limit holds cookie's request back");
        rateLimiter.IdleDuration.Should().BeNull("a host drops idle partitions by disposing them, which would fail the waiter");
        other.Dispose();
        (await waiting.WaitAsync(TestSupport.Bound)).Dispose();
    }

    [Fact]
    public void AsRateLimiter_InvalidArguments_ThrowNamingThem()
    {
        using var limiter = TestSupport.CreateLimiter();

        limiter.Invoking(l => l.AsRateLimiter(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("agent");
        limiter.Invoking(l => l.AsRateLimiter(new AgentDef("a", 0))).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("agent");
        limiter.Invoking(l => l.AsRateLimiter(TestSupport.Cookie, new AcquireOptions { SessionId = " " }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("options");
        limiter.Invoking(l => l.AsRateLimiter(TestSupport.Cookie, new AcquireOptions { RunId = "r1" }))
            .Should().Throw<ArgumentException>("leases sharing one run would release each other").Which.ParamName.Should().Be("options");
    }
}
