namespace AgentConcurrency.Tests;

/// <summary>What one busy caller can and cannot do to another (issue 5, part 5).</summary>
public class FairnessTests
{
    [Fact]
    public async Task OneSourceFlooding10000Requests_DoesNotKeepAnotherSourceWaiting()
    {
        var agent = new AgentDef("shared", 100);
        using var limiter = TestSupport.CreateLimiter(options =>
        {
            options.MaxConcurrencyPerSource = 2;
            options.MaxParallelRuns = 10;
        });
        var flood = new AcquireOptions { Source = "flood" };
        var held = new List<AgentSlot>();
        for (var i = 0; i < 2; i++)
        {
            held.Add(await limiter.AcquireAsync(agent, flood));
        }

        var waiting = Enumerable.Range(0, 10_000).Select(_ => limiter.AcquireAsync(agent, flood).AsTask()).ToList();
        limiter.GetStatus().QueuedRequests.Should().Be(10_000, "the flood is held back by its own source limit");

        // Queued behind all of them, but needing nothing the flood is waiting for: granted at once.
        var other = limiter.AcquireAsync(agent, new AcquireOptions { Source = "other" });
        other.IsCompletedSuccessfully.Should().BeTrue("a source blocked only by its own limit does not hold back another source");

        // And when a flood slot is given back, the other source's next request still does not wait behind the flood.
        held[0].Dispose();
        var next = limiter.AcquireAsync(agent, new AcquireOptions { Source = "other" });
        next.IsCompletedSuccessfully.Should().BeTrue();
        limiter.GetStatus().Agent("shared").Active.Should().Be(4, "two of the flood (one of them just admitted from the queue) and two of the other source");

        (await waiting[0].WaitAsync(TestSupport.Bound)).Dispose();
        (await other).Dispose();
        (await next).Dispose();
        held[1].Dispose();
        limiter.Dispose();
        await Task.WhenAll(waiting.Skip(1)).Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task PriorityIsStrict_ATrickleOfHigherPriorityRequestsIsServedFirst()
    {
        // The documented rule: the queue is served by priority, then arrival, with no ageing. A low-priority request
        // waits while higher-priority ones keep arriving; a host that needs a bound on that wait sets a queue timeout.
        using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(TestSupport.Cookie);
        var low = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { Priority = 0 }).ShouldBeWaiting();

        for (var i = 0; i < 5; i++)
        {
            var high = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { Priority = 1 }).ShouldBeWaiting();
            holder.Dispose();
            holder = await high.WaitAsync(TestSupport.Bound);
            low.IsCompleted.Should().BeFalse("a higher priority that arrived later is still served first");
        }

        holder.Dispose();
        (await low.WaitAsync(TestSupport.Bound)).Dispose();
    }
}
