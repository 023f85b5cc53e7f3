namespace AgentConcurrency.Tests;

public class DisposalTests
{
    [Fact]
    public async Task Dispose_FailsEveryWaiterWithObjectDisposedException()
    {
        var limiter = TestSupport.CreateLimiter();
        await using var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var first = limiter.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        var second = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { Priority = 1 }).ShouldBeWaiting();

        limiter.Dispose();

        await first.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
        await second.Awaiting(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [Fact]
    public void Dispose_LaterAcquires_ThrowObjectDisposedException()
    {
        var limiter = TestSupport.CreateLimiter();
        limiter.Dispose();

        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie)).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquire(TestSupport.Cookie, null, out _)).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquireSessionSlot("s1")).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquireRunSlot("s1", "r1")).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task Dispose_LaterReleases_AreNoOps()
    {
        var limiter = TestSupport.CreateLimiter();
        var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1", RunId = "r1" });
        limiter.TryAcquireRunSlot("s2", "r2");

        await limiter.DisposeAsync();
        slot.Dispose();
        limiter.ReleaseRunSlot("r2");
        limiter.ReleaseSessionSlot("s1");

        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 2 && s.ActiveSessions == 2);
    }

    [Fact]
    public void Dispose_Twice_IsHarmless()
    {
        var limiter = TestSupport.CreateLimiter();

        limiter.Dispose();

        limiter.Invoking(l => l.Dispose()).Should().NotThrow();
    }
}
