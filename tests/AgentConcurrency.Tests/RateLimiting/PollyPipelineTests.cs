using System.Threading.RateLimiting;
using Polly;
using Polly.RateLimiting;

namespace AgentConcurrency.Tests.RateLimiting;

/// <summary>The partitioned adapter in a Polly v8 pipeline: Polly's rate-limiter strategy takes the agents' slots.</summary>
public class PollyPipelineTests
{
    private static readonly ResiliencePropertyKey<AgentDef> AgentKey = new("agent");

    [Fact]
    public async Task Pipeline_HoldsTheAgentsSlotForTheCallAndRejectsWhatTheLimiterRefuses()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.QueueLimit = 0);
        using var partitioned = limiter.AsPartitionedRateLimiter();
        string? rejectedBecause = null;
        var pipeline = new ResiliencePipelineBuilder()
            .AddRateLimiter(new RateLimiterStrategyOptions
            {
                RateLimiter = args => partitioned.AcquireAsync(args.Context.Properties.GetValue(AgentKey, TestSupport.Pickle), 1, args.Context.CancellationToken),
                OnRejected = args =>
                {
                    rejectedBecause = args.Lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) ? reason : null;
                    return default;
                },
            })
            .Build();
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var running = RunAsAsync(pipeline, TestSupport.Cookie, async () =>
        {
            inside.SetResult();
            await finish.Task;
        });
        await inside.Task.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Active.Should().Be(1, "the call holds cookie's slot while it runs");

        await FluentActions.Awaiting(() => RunAsAsync(pipeline, TestSupport.Cookie, () => Task.CompletedTask))
            .Should().ThrowAsync<RateLimiterRejectedException>();
        rejectedBecause.Should().Be("Queue limit reached");
        await RunAsAsync(pipeline, TestSupport.Pickle, () => Task.CompletedTask).WaitAsync(TestSupport.Bound);

        finish.SetResult();
        await running.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Active.Should().Be(0, "Polly disposed the lease after the call");
    }

    [Fact]
    public async Task Pipeline_WaitsInTheLimitersQueueUntilTheSlotFrees()
    {
        using var limiter = TestSupport.CreateLimiter();
        using var partitioned = limiter.AsPartitionedRateLimiter();
        var pipeline = new ResiliencePipelineBuilder()
            .AddRateLimiter(new RateLimiterStrategyOptions { RateLimiter = args => partitioned.AcquireAsync(TestSupport.Cookie, 1, args.Context.CancellationToken) })
            .Build();
        var held = await limiter.AcquireAsync(TestSupport.Cookie).Within();

        var waiting = pipeline.ExecuteAsync(_ => ValueTask.CompletedTask).AsTask();
        limiter.GetStatus().Agent("cookie").Queued.Should().Be(1, "Polly's call waits in the limiter's queue");
        held.Dispose();

        await waiting.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("cookie").Active.Should().Be(0);
    }

    private static async Task RunAsAsync(ResiliencePipeline pipeline, AgentDef agent, Func<Task> work)
    {
        var context = ResilienceContextPool.Shared.Get();
        context.Properties.Set(AgentKey, agent);
        try
        {
            await pipeline.ExecuteAsync(async _ => await work(), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
