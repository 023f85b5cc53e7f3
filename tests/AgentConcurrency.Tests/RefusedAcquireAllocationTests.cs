using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace AgentConcurrency.Tests;

/// <summary>
/// A host that polls <see cref="AgentConcurrencyLimiter.TryAcquire"/> on a full agent is refused on every call: that must
/// cost no garbage, as a grant does not.
/// </summary>
public class RefusedAcquireAllocationTests
{
    [Fact]
    public void TryAcquire_RefusedOnceWarm_AllocatesNothing()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var limiter = TestSupport.CreateUnobservedLimiter(services.GetRequiredService<IMeterFactory>());
        limiter.TryAcquire(TestSupport.Cookie, null, out var held).Should().BeTrue();

        // Warm: everything on the path is compiled.
        var refusedWarm = TryTimes(limiter, times: 100);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var refused = TryTimes(limiter, times: 1_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        allocated.Should().Be(0, "a refusal names its error code without boxing it");
        (refusedWarm + refused).Should().Be(1_100);
        held.Dispose();
    }

    /// <summary>Asks <paramref name="times"/> times and counts the refusals; no assertion inside, which would allocate.</summary>
    private static int TryTimes(AgentConcurrencyLimiter limiter, int times)
    {
        var refused = 0;
        for (var attempt = 0; attempt < times; attempt++)
        {
            refused += limiter.TryAcquire(TestSupport.Cookie, null, out _) ? 0 : 1;
        }

        return refused;
    }
}
