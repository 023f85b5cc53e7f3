using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

public class StatusTests
{
    [Fact]
    public void GetStatus_NewLimiter_ReportsTheLimitsAndNothingActive()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelSessions = null);

        var status = limiter.GetStatus();

        status.Should().Match<ConcurrencyStatus>(s =>
            s.ActiveSessions == 0 && s.ActiveRuns == 0 && s.QueuedRequests == 0 &&
            s.MaxParallelSessions == null && s.AvailableSessionSlots == null &&
            s.MaxParallelRuns == 50 && s.AvailableRunSlots == 50);
        status.Agents.Should().BeEmpty();
    }

    [Fact]
    public async Task GetStatus_WithHoldersAndWaiters_IsAConsistentSnapshotInServingOrder()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 10, time);
        await using var cookie = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "s1" });
        await using var pickle = await limiter.AcquireAsync(TestSupport.Pickle, new AcquireOptions { SessionId = "s2" });
        _ = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "w1", Source = "cli" }).ShouldBeWaiting();
        time.Advance(TimeSpan.FromSeconds(1));
        _ = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { RunId = "w2", Priority = 3 }).ShouldBeWaiting();

        var status = limiter.GetStatus();

        status.Should().Match<ConcurrencyStatus>(s => s.ActiveSessions == 2 && s.ActiveRuns == 2 && s.AvailableRunSlots == 8 && s.QueuedRequests == 2);
        status.Agents.Select(a => a.AgentId).Should().Equal("cookie", "pickle");
        var queue = status.Agent("cookie");
        queue.Should().Match<AgentStatus>(a => a.Limit == 1 && a.Active == 1 && a.Available == 0 && a.Queued == 2);
        queue.QueuedRequests.Select(q => (q.RunId, q.Position)).Should().Equal(("w2", 1), ("w1", 2));
        queue.QueuedRequests[1].Should().Match<QueuedRequest>(q => q.Source == "cli" && q.EnqueuedAt == new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        status.Agent("pickle").Should().Match<AgentStatus>(a => a.Available == 2 && a.Queued == 0);
    }

    [Fact]
    public async Task GetStatus_Snapshot_DoesNotChangeWhenTheLimiterDoes()
    {
        using var limiter = TestSupport.CreateLimiter();
        var slot = await limiter.AcquireAsync(TestSupport.Cookie);
        var before = limiter.GetStatus();

        slot.Dispose();

        before.Agent("cookie").Active.Should().Be(1);
        before.ActiveRuns.Should().Be(1);
    }

    [Fact]
    public async Task GetStatus_AfterDisposal_StillWorks()
    {
        var limiter = TestSupport.CreateLimiter();
        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie);

        await limiter.DisposeAsync();

        limiter.GetStatus().Agent("cookie").Active.Should().Be(1);
    }
}
