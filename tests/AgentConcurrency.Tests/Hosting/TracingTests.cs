using System.Collections.Concurrent;
using System.Diagnostics;

namespace AgentConcurrency.Tests.Hosting;

public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;
    private readonly AgentDef _agent = new("traced-" + Guid.NewGuid().ToString("n"), MaxConcurrency: 1);

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "AgentConcurrency",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task A_request_that_waits_is_traced_from_enqueue_to_grant_with_agent_position_and_result()
    {
        await using var limiter = TestSupport.CreateLimiter();
        var holder = await limiter.AcquireAsync(_agent).Within();
        var waiter = limiter.AcquireAsync(_agent).ShouldBeWaiting();
        Mine().Should().BeEmpty("the wait is not over");

        holder.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).Dispose();

        var activity = Mine().Should().ContainSingle().Which;
        activity.OperationName.Should().Be("AgentConcurrency.Wait");
        activity.Source.Name.Should().Be("AgentConcurrency");
        activity.GetTagItem("agent_concurrency.agent").Should().Be(_agent.Id);
        activity.GetTagItem("agent_concurrency.queue.position").Should().Be(1);
        activity.GetTagItem("agent_concurrency.result").Should().Be("acquired");
        activity.Status.Should().Be(ActivityStatusCode.Unset);
    }

    [Fact]
    public async Task The_wait_is_a_child_of_the_callers_activity_and_never_becomes_current_on_either_side()
    {
        await using var limiter = TestSupport.CreateLimiter();
        using var caller = new Activity("caller").Start();
        var holder = await limiter.AcquireAsync(_agent).Within();
        var waiter = limiter.AcquireAsync(_agent).ShouldBeWaiting();
        Activity.Current.Should().BeSameAs(caller, "the caller's code goes on while its request waits");

        holder.Dispose();
        Activity.Current.Should().BeSameAs(caller, "the release that ended the wait keeps its own current activity");
        (await waiter.WaitAsync(TestSupport.Bound)).Dispose();

        Mine().Should().ContainSingle().Which.Parent.Should().BeSameAs(caller);
    }

    [Fact]
    public async Task A_wait_that_times_out_is_traced_as_an_error_with_its_code()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var limiter = TestSupport.CreateLimiter(o => o.QueueTimeout = TimeSpan.FromSeconds(1), clock);
        await using var holder = await limiter.AcquireAsync(_agent).Within();
        var waiter = limiter.AcquireAsync(_agent).ShouldBeWaiting();

        clock.Advance(TimeSpan.FromSeconds(1));
        await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        var activity = Mine().Should().ContainSingle().Which;
        activity.GetTagItem("agent_concurrency.result").Should().Be("timed_out");
        activity.GetTagItem("agent_concurrency.error_code").Should().Be("QueueTimeout");
        activity.Status.Should().Be(ActivityStatusCode.Error);
    }

    [Fact]
    public async Task A_request_granted_at_once_is_not_traced()
    {
        await using var limiter = TestSupport.CreateLimiter();

        (await limiter.AcquireAsync(_agent).Within()).Dispose();

        Mine().Should().BeEmpty();
    }

    private List<Activity> Mine() => _stopped.Where(a => Equals(a.GetTagItem("agent_concurrency.agent"), _agent.Id)).ToList();
}
