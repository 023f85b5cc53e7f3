using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Hosting;

public class MetricsTests
{
    private const string AgentTag = "agent_concurrency.agent";
    private const string ResultTag = "agent_concurrency.result";
    private static readonly AgentDef Cookie = new("cookie", MaxConcurrency: 1);

    [Fact]
    public async Task Active_slots_go_up_on_grant_and_down_on_release_and_a_join_takes_no_new_slot()
    {
        using var host = new TestHost();
        using var activeSlots = host.Collect<long>("agent_concurrency.active_slots");

        var slot = await host.Limiter.AcquireAsync(Cookie, new AcquireOptions { RunId = "run-1", SessionId = "s" }).Within();
        var joined = await host.Limiter.AcquireAsync(Cookie, new AcquireOptions { RunId = "run-1", SessionId = "s" }).Within();
        slot.Dispose();
        joined.Dispose();

        activeSlots.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1);
        activeSlots.GetMeasurementSnapshot().Should().AllSatisfy(m => m.Tags.Should().Equal(new Dictionary<string, object?> { [AgentTag] = "cookie" }));
    }

    [Fact]
    public async Task A_release_that_hands_its_slot_to_a_waiter_records_the_slot_given_back_then_the_slot_taken()
    {
        // One release, two measurements: the run that ended and the waiter's run that started, in that order.
        using var host = new TestHost();
        using var activeSlots = host.Collect<long>("agent_concurrency.active_slots");
        var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        holder.Dispose();
        var handedOver = await waiter.WaitAsync(TestSupport.Bound);

        activeSlots.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1, 1);
        handedOver.Dispose();
        activeSlots.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1, 1, -1);
    }

    [Fact]
    public async Task Queued_requests_go_up_on_enqueue_and_down_when_they_leave_the_queue()
    {
        using var host = new TestHost();
        using var queued = host.Collect<long>("agent_concurrency.queued_requests");
        var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        queued.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1);
        holder.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).Dispose();

        queued.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1);
        queued.LastMeasurement!.Tags.Should().Equal(new Dictionary<string, object?> { [AgentTag] = "cookie" });
    }

    [Fact]
    public async Task Time_in_queue_and_slot_duration_are_measured_in_seconds_by_the_clock()
    {
        using var host = new TestHost();
        using var timeInQueue = host.Collect<double>("agent_concurrency.time_in_queue");
        using var slotDuration = host.Collect<double>("agent_concurrency.slot.duration");
        var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        host.Clock.Advance(TimeSpan.FromSeconds(2));
        holder.Dispose();
        var second = await waiter.WaitAsync(TestSupport.Bound);
        host.Clock.Advance(TimeSpan.FromSeconds(3));
        second.Dispose();

        timeInQueue.GetMeasurementSnapshot().Should().ContainSingle().Which.Should().BeEquivalentTo(new
        {
            Value = 2.0,
            Tags = new Dictionary<string, object?> { [AgentTag] = "cookie", [ResultTag] = "acquired" },
        });
        slotDuration.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(2.0, 3.0);
        slotDuration.LastMeasurement!.Tags.Should().Equal(new Dictionary<string, object?> { [AgentTag] = "cookie" });
    }

    [Fact]
    public async Task A_run_whose_start_the_clock_cannot_date_is_granted_untimed_and_its_slot_comes_back()
    {
        var clock = new ClockFailingTimeProvider();
        using var host = new TestHost(configure: services => services.AddSingleton<TimeProvider>(clock));
        using var slotDuration = host.Collect<double>("agent_concurrency.slot.duration");
        // A first run makes the agent's gate, so the run under test is a known agent's plain run, on the short path.
        (await host.Limiter.AcquireAsync(Cookie).Within()).Dispose();
        clock.Fails = true;

        var untimed = await host.Limiter.AcquireAsync(Cookie).Within();

        clock.Fails = false;
        untimed.Dispose();
        (await host.Limiter.AcquireAsync(Cookie).Within()).Dispose();
        slotDuration.GetMeasurementSnapshot().Should().HaveCount(2, "only the runs the clock could date were timed");
    }

    [Fact]
    public async Task Each_finished_request_is_counted_once_with_its_result()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:QueueTimeout"] = "00:00:01", ["AgentConcurrency:QueueLimit"] = "1" });
        using var requests = host.Collect<long>("agent_concurrency.requests");
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();

        var timingOut = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();
        await host.Limiter.Invoking(l => l.AcquireAsync(Cookie).AsTask()).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        host.Clock.Advance(TimeSpan.FromSeconds(1));
        await timingOut.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        using var cancellation = new CancellationTokenSource();
        var canceled = host.Limiter.AcquireAsync(Cookie, cancellation.Token).ShouldBeWaiting();
        await cancellation.CancelAsync();
        await canceled.Invoking(t => t.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();

        requests.GetMeasurementSnapshot().Select(m => (m.Value, m.Tags[ResultTag])).Should().Equal(
            (1, "acquired"), (1, "rejected"), (1, "timed_out"), (1, "canceled"));
        requests.GetMeasurementSnapshot().Should().AllSatisfy(m => m.Tags.Keys.Should().BeEquivalentTo(AgentTag, ResultTag));
    }

    [Fact]
    public async Task Slots_still_held_when_the_limiter_is_disposed_are_taken_off_active_slots()
    {
        using var host = new TestHost();
        using var activeSlots = host.Collect<long>("agent_concurrency.active_slots");
        using var queued = host.Collect<long>("agent_concurrency.queued_requests");
        var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        host.Limiter.Dispose();
        await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
        holder.Dispose();

        activeSlots.GetMeasurementSnapshot().Sum(m => m.Value).Should().Be(0);
        queued.GetMeasurementSnapshot().Sum(m => m.Value).Should().Be(0);
    }

    [Fact]
    public async Task No_instrument_is_tagged_with_session_run_or_source_ids()
    {
        using var host = new TestHost();
        using var listener = new MeterListener();
        var tagKeys = new HashSet<string>();
        var factory = host.Services.GetService(typeof(IMeterFactory));
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "AgentConcurrency" && instrument.Meter.Scope == factory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) => Collect(tags));
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) => Collect(tags));
        listener.Start();

        var options = new AcquireOptions { SessionId = "session", RunId = "run", Source = "telegram" };
        var holder = await host.Limiter.AcquireAsync(Cookie, options).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie, new AcquireOptions { SessionId = "s2", RunId = "r2", Source = "discord" }).ShouldBeWaiting();
        holder.Dispose();
        (await waiter.WaitAsync(TestSupport.Bound)).Dispose();

        lock (tagKeys)
        {
            tagKeys.Should().BeEquivalentTo(AgentTag, ResultTag);
        }

        void Collect(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (tagKeys)
            {
                foreach (var tag in tags)
                {
                    tagKeys.Add(tag.Key);
                }
            }
        }
    }

    [Fact]
    public void Without_a_meter_factory_the_limiter_reports_on_a_meter_of_its_own()
    {
        // Other tests' limiters have meters of the same name, so this listens to all of them and keeps its own agent's.
        var agent = new AgentDef("own-meter-" + Guid.NewGuid().ToString("n"), 1);
        var results = new ConcurrentQueue<object?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter is { Name: "AgentConcurrency", Scope: null } && instrument.Name == "agent_concurrency.requests")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var found = tags.ToArray();
            if (found.Any(t => t.Key == AgentTag && Equals(t.Value, agent.Id)))
            {
                results.Enqueue(found.Single(t => t.Key == ResultTag).Value);
            }
        });
        listener.Start();
        using var limiter = new AgentConcurrencyLimiter(new AgentConcurrencyOptions(), new FakeTimeProvider());

        limiter.TryAcquire(agent, null, out var slot).Should().BeTrue();
        slot.Dispose();

        results.Should().Equal("acquired");
    }
}
