using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.RateLimiting;

/// <summary><see cref="AgentConcurrencyLimiter.AsPartitionedRateLimiter"/>: one partition per agent id, served by the limiter's own gates.</summary>
public class AgentPartitionedRateLimiterTests
{
    [Fact]
    public void AttemptAcquire_PartitionsByAgentId()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();

        using var cookie = partitioned.AttemptAcquire(TestSupport.Cookie);
        using var pickle = partitioned.AttemptAcquire(TestSupport.Pickle);
        using var secondCookie = partitioned.AttemptAcquire(TestSupport.Cookie);

        cookie.IsAcquired.Should().BeTrue();
        pickle.IsAcquired.Should().BeTrue("another agent is another partition");
        secondCookie.IsAcquired.Should().BeFalse("cookie allows one");
    }

    [Fact]
    public void AttemptAcquire_UsesTheLimitersGates_NoSecondSetOfCounters()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var direct).Should().BeTrue();

        partitioned.AttemptAcquire(TestSupport.Cookie).IsAcquired.Should().BeFalse("the limiter's own acquire holds cookie's slot");
        partitioned.GetStatistics(TestSupport.Cookie)!.CurrentAvailablePermits.Should().Be(0);
        direct.Dispose();

        using var lease = partitioned.AttemptAcquire(TestSupport.Cookie);
        lease.IsAcquired.Should().BeTrue();
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1, "the limiter's status shows the partition's lease");
    }

    [Fact]
    public void AttemptAcquire_TheResourcesLimitIsItsDeclaredLimit_AsForAcquireAsync()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.AgentLimits["big"] = 3);
        using var partitioned = limiter.AsPartitionedRateLimiter();

        partitioned.GetStatistics(new AgentDef("small", 2))!.CurrentAvailablePermits.Should().Be(2);
        partitioned.GetStatistics(new AgentDef("big", 1))!.CurrentAvailablePermits.Should().Be(3, "AgentLimits overrides the declared limit");
    }

    [Fact]
    public async Task AcquireAsync_QueuesInThePartitionAndIsGrantedOnRelease()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();
        var held = partitioned.AttemptAcquire(TestSupport.Cookie);

        var waiting = partitioned.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();
        partitioned.GetStatistics(TestSupport.Cookie)!.CurrentQueuedCount.Should().Be(1);
        using var pickle = await partitioned.AcquireAsync(TestSupport.Pickle).Within();
        pickle.IsAcquired.Should().BeTrue("a full partition does not hold up another");
        held.Dispose();

        using var lease = await waiting.WaitAsync(TestSupport.Bound);
        lease.IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task GetStatistics_CountsLeasesPerAgent()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();
        using var cookie = partitioned.AttemptAcquire(TestSupport.Cookie);
        using var refused = partitioned.AttemptAcquire(TestSupport.Cookie);
        using var pickle = await partitioned.AcquireAsync(TestSupport.Pickle).Within();

        var cookieStatistics = partitioned.GetStatistics(TestSupport.Cookie)!;
        cookieStatistics.TotalSuccessfulLeases.Should().Be(1);
        cookieStatistics.TotalFailedLeases.Should().Be(1);
        partitioned.GetStatistics(TestSupport.Pickle)!.TotalSuccessfulLeases.Should().Be(1);
        partitioned.GetStatistics(new AgentDef("unused", 4)).Should().BeEquivalentTo(
            new RateLimiterStatistics { CurrentAvailablePermits = 4 }, "an agent never asked for has its whole limit and no leases");
    }

    [Fact]
    public void GetStatistics_AgentIdleLongerThanIdleAgentTimeout_StartsItsCountsAgain()
    {
        var time = new FakeTimeProvider();
        using var limiter = TestSupport.CreateLimiter(options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), time);
        using var partitioned = limiter.AsPartitionedRateLimiter();
        partitioned.AttemptAcquire(TestSupport.Cookie).Dispose();
        using var held = partitioned.AttemptAcquire(TestSupport.Pickle);
        time.Advance(TimeSpan.FromMinutes(2));

        // Enough new agents to make the adapter prune its table of totals.
        for (var i = 0; i < 1100; i++)
        {
            partitioned.AttemptAcquire(new AgentDef($"agent-{i}", 1)).Dispose();
        }

        partitioned.GetStatistics(TestSupport.Cookie)!.TotalSuccessfulLeases.Should().Be(0, "cookie was idle past the timeout");
        partitioned.GetStatistics(TestSupport.Pickle)!.TotalSuccessfulLeases.Should().Be(1, "pickle still has a lease out");
        partitioned.GetStatistics(new AgentDef("agent-0", 1))!.TotalSuccessfulLeases.Should().Be(1, "recent agents keep theirs");
    }

    [Fact]
    public async Task WithTranslatedKey_MapsOtherResourcesToAgents()
    {
        using var limiter = TestSupport.CreateLimiter();
        var agents = new Dictionary<string, AgentDef> { ["/cookie"] = TestSupport.Cookie, ["/pickle"] = TestSupport.Pickle };
        using var byPath = limiter.AsPartitionedRateLimiter().WithTranslatedKey<string>(path => agents[path], leaveOpen: false);

        using var lease = await byPath.AcquireAsync("/cookie").Within();

        lease.IsAcquired.Should().BeTrue();
        byPath.AttemptAcquire("/cookie").IsAcquired.Should().BeFalse();
        byPath.AttemptAcquire("/pickle").IsAcquired.Should().BeTrue();
    }

    [Fact]
    public async Task Dispose_FailsQueuedRequestsAndLeavesTheLimiter()
    {
        using var limiter = TestSupport.CreateLimiter();
        var partitioned = limiter.AsPartitionedRateLimiter();
        using var held = partitioned.AttemptAcquire(TestSupport.Cookie);
        var waiting = partitioned.AcquireAsync(TestSupport.Cookie).ShouldBeWaiting();

        partitioned.Dispose();

        (await waiting.WaitAsync(TestSupport.Bound)).IsAcquired.Should().BeFalse();
        partitioned.Invoking(p => p.AttemptAcquire(TestSupport.Pickle)).Should().Throw<ObjectDisposedException>();
        (await limiter.AcquireAsync(TestSupport.Pickle).Within()).Dispose();
    }

    [Fact]
    public async Task InvalidResource_ThrowsNamingIt()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();

        partitioned.Invoking(p => p.AttemptAcquire(null!)).Should().Throw<ArgumentNullException>().Which.ParamName.Should().Be("resource");
        (await partitioned.Awaiting(p => p.AcquireAsync(new AgentDef(" ", 1)).AsTask()).Should().ThrowAsync<ArgumentException>())
            .Which.ParamName.Should().Be("resource");
        partitioned.Invoking(p => p.GetStatistics(new AgentDef("a", 0))).Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("resource");
        partitioned.Invoking(p => p.AttemptAcquire(TestSupport.Cookie, 2))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("permitCount");
    }
}
