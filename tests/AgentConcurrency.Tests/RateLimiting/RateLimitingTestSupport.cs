using System.Threading.RateLimiting;

namespace AgentConcurrency.Tests.RateLimiting;

/// <summary>Helpers for the adapter tests: leases as tasks bounded in time, and the reason a lease failed.</summary>
internal static class RateLimitingTestSupport
{
    public static Task<RateLimitLease> Within(this ValueTask<RateLimitLease> pending) => pending.AsTask().WaitAsync(TestSupport.Bound);

    public static Task<RateLimitLease> ShouldBeWaiting(this ValueTask<RateLimitLease> pending)
    {
        var task = pending.AsTask();
        task.IsCompleted.Should().BeFalse("the request should still be waiting");
        return task;
    }

    public static string? ReasonPhrase(this RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) ? reason : null;
}
