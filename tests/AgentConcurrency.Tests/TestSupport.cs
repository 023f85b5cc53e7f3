using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

/// <summary>Shared helpers: every wait in the tests is bounded so that a bug fails fast instead of hanging CI.</summary>
internal static class TestSupport
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public static AgentDef Cookie { get; } = new("cookie", 1);

    public static AgentDef Pickle { get; } = new("pickle", 3);

    public static AgentConcurrencyLimiter CreateLimiter(Action<AgentConcurrencyOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var options = new AgentConcurrencyOptions();
        configure?.Invoke(options);
        return new AgentConcurrencyLimiter(options, timeProvider ?? new FakeTimeProvider());
    }

    /// <summary>
    /// A limiter whose meters come from <paramref name="meterFactory"/>, a factory of the test's own, so that no other test's
    /// listener enables them: for tests that count allocations, to which a listener's callback on the test's thread would add.
    /// </summary>
    public static AgentConcurrencyLimiter CreateUnobservedLimiter(IMeterFactory meterFactory) =>
        new(new AgentConcurrencyOptions(), new FakeTimeProvider(), loggerFactory: null, meterFactory);

    /// <summary>Awaits a pending acquire, failing the test if it does not finish within the bound.</summary>
    public static Task<AgentSlot> Within(this ValueTask<AgentSlot> pending) => pending.AsTask().WaitAsync(Bound);

    /// <summary>Asserts that an acquire has not completed, and returns it as a task to await later.</summary>
    public static Task<AgentSlot> ShouldBeWaiting(this ValueTask<AgentSlot> pending)
    {
        var task = pending.AsTask();
        task.IsCompleted.Should().BeFalse("the request should still be waiting");
        return task;
    }

    /// <summary>
    /// Calls <paramref name="onChange"/> with each change of <c>agent_concurrency.active_slots</c> recorded by the meters of
    /// <paramref name="meterFactory"/>, on the recording thread: the limiter records a run's start after the lock that
    /// granted it and before the waiter is handed its slot, so a test can act in that gap.
    /// </summary>
    public static MeterListener OnActiveSlotsChange(IMeterFactory meterFactory, Action<long> onChange)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, meterListener) =>
            {
                if (instrument.Meter.Scope == meterFactory && instrument.Name == "agent_concurrency.active_slots")
                {
                    meterListener.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, change, _, _) => onChange(change));
        listener.Start();
        return listener;
    }

    public static AgentStatus Agent(this ConcurrencyStatus status, string agentId) =>
        status.Agents.Single(agent => agent.AgentId == agentId);

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if that is higher, atomically: the peak of a count kept by many threads.</summary>
    public static void RaiseTo(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Starts a request that must wait, and returns once the limiter has queued it (and called its own callback).</summary>
    public static async Task<Task<AgentSlot>> EnqueueAsync(
        this IAgentConcurrencyLimiter limiter, AgentDef agent, AcquireOptions? options = null, CancellationToken cancellationToken = default)
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        options ??= new AcquireOptions();
        var request = limiter.AcquireAsync(
            agent,
            new AcquireOptions
            {
                SessionId = options.SessionId,
                RunId = options.RunId,
                Source = options.Source,
                Priority = options.Priority,
                QueueTimeout = options.QueueTimeout,
                OnQueued = request =>
                {
                    options.OnQueued?.Invoke(request);
                    queued.TrySetResult();
                },
            },
            cancellationToken).AsTask();
        await Task.WhenAny(queued.Task, request).WaitAsync(Bound);
        request.IsCompleted.Should().BeFalse("the request should have to wait");
        return request;
    }
}
