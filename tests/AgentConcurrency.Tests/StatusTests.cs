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
    public async Task GetStatus_QueuesOfManyAgents_AreEachInServingOrderAndKeepTheirRequestsAfterTheyLeave()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.MaxParallelRuns = 100);
        var agents = Enumerable.Range(0, 3).Select(i => new AgentDef($"agent-{i}", 1)).ToArray();
        var holders = new List<AgentSlot>();
        foreach (var agent in agents)
        {
            holders.Add(await limiter.AcquireAsync(agent));
        }

        // Interleaved across agents, with a priority that overtakes within its agent only.
        var waiting = new List<Task<AgentSlot>>();
        for (var round = 0; round < 3; round++)
        {
            foreach (var agent in agents)
            {
                waiting.Add(limiter.AcquireAsync(agent, new AcquireOptions { RunId = $"{agent.Id}-r{round}", Priority = round == 2 ? 1 : 0 }).ShouldBeWaiting());
            }
        }

        var status = limiter.GetStatus();
        holders.ForEach(static slot => slot.Dispose());
        (await Task.WhenAll(waiting.Skip(6)).WaitAsync(TestSupport.Bound)).Should().OnlyContain(slot => slot.IsHeld, "each agent's priority request went first");

        foreach (var agent in agents)
        {
            var queued = status.Agent(agent.Id).QueuedRequests;
            queued.Select(q => (q.RunId, q.Position, q.AgentId)).Should().Equal(
                ($"{agent.Id}-r2", 1, agent.Id), ($"{agent.Id}-r0", 2, agent.Id), ($"{agent.Id}-r1", 3, agent.Id));
            queued[0].Should().BeSameAs(queued.First(), "a request is described once per snapshot");
            queued.Invoking(q => q[3]).Should().Throw<ArgumentOutOfRangeException>();
        }

        limiter.Dispose();
        await Task.WhenAll(waiting.Take(6)).Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
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
