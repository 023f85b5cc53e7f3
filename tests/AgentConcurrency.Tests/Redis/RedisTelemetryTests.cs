using System.Diagnostics.Metrics;
using AgentConcurrency.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Redis;

/// <summary>
/// The Redis limiter measures its own process's requests and slots with the in-process limiter's instruments, so that
/// summed over the processes they are the shared totals.
/// </summary>
public sealed class RedisTelemetryTests : IAsyncDisposable
{
    private const string AgentTag = "agent_concurrency.agent";
    private const string ResultTag = "agent_concurrency.result";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private static readonly AgentDef Solo = new("solo", MaxConcurrency: 1);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _clock = new();
    private RedisAgentConcurrencyLimiter? _limiter;

    /// <summary>Made in the test, so that a missing Redis skips it rather than failing its setup.</summary>
    private RedisAgentConcurrencyLimiter Limiter => _limiter ??= new RedisAgentConcurrencyLimiter(
        RedisTestServer.Connection,
        new AgentConcurrencyOptions(),
        new RedisConcurrencyOptions { KeyPrefix = RedisTestServer.UniquePrefix() },
        _clock,
        meterFactory: _services.GetRequiredService<IMeterFactory>());

    public async ValueTask DisposeAsync()
    {
        if (_limiter is not null)
        {
            await _limiter.DisposeAsync();
        }

        await _services.DisposeAsync();
    }

    [SkippableFact]
    public async Task Slots_count_up_and_down_and_a_join_takes_no_new_slot()
    {
        using var active = Collect<long>("agent_concurrency.active_slots");
        using var duration = Collect<double>("agent_concurrency.slot.duration");

        var slot = await Limiter.AcquireAsync(Solo, new AcquireOptions { RunId = "r1" });
        var joined = await Limiter.AcquireAsync(Solo, new AcquireOptions { RunId = "r1" });
        _clock.Advance(TimeSpan.FromSeconds(2));
        await joined.DisposeAsync();
        await slot.DisposeAsync();

        active.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1);
        active.LastMeasurement!.Tags.Should().Equal(new Dictionary<string, object?> { [AgentTag] = "solo" });
        duration.GetMeasurementSnapshot().Should().ContainSingle().Which.Value.Should().Be(2);
    }

    [SkippableFact]
    public async Task Requests_are_counted_by_result_and_waits_are_timed()
    {
        using var requests = Collect<long>("agent_concurrency.requests");
        using var queued = Collect<long>("agent_concurrency.queued_requests");
        using var timeInQueue = Collect<double>("agent_concurrency.time_in_queue");
        var holder = await Limiter.AcquireAsync(Solo);
        Limiter.TryAcquire(Solo, null, out _).Should().BeFalse();
        var queuedOnce = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = Limiter.AcquireAsync(Solo, new AcquireOptions { OnQueued = _ => queuedOnce.TrySetResult() }).AsTask();
        await queuedOnce.Task.WaitAsync(Bound);

        _clock.Advance(TimeSpan.FromSeconds(3));
        await holder.DisposeAsync();
        await (await waiting.WaitAsync(Bound)).DisposeAsync();

        requests.GetMeasurementSnapshot().Select(m => m.Tags[ResultTag]).Should().Equal("acquired", "rejected", "acquired");
        queued.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(1, -1);
        timeInQueue.GetMeasurementSnapshot().Should().ContainSingle().Which.Value.Should().Be(3);
    }

    private MetricCollector<T> Collect<T>(string instrument)
        where T : struct =>
        new(_services.GetRequiredService<IMeterFactory>(), "AgentConcurrency", instrument);
}
