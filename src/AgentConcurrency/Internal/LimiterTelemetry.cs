using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentConcurrency.Internal;

/// <summary>
/// A limiter's logs, metrics and traces. Called only outside the lock: log providers, metric listeners and activity
/// listeners are other people's code. Every instrument is tagged with the agent id only (agent ids are bounded by
/// configuration; session, run and source ids are not, and would explode a metrics backend).
/// </summary>
internal sealed class LimiterTelemetry : IDisposable
{
    public const string MeterName = "AgentConcurrency";
    public const string ActivitySourceName = "AgentConcurrency";
    public const string WaitActivityName = "AgentConcurrency.Wait";
    public const string AgentTag = "agent_concurrency.agent";
    public const string ResultTag = "agent_concurrency.result";
    public const string PositionTag = "agent_concurrency.queue.position";
    public const string ErrorCodeTag = "agent_concurrency.error_code";

    // Agent runs last seconds to minutes, so the buckets reach further than the default (which stops at 10 s).
    private static readonly IReadOnlyList<double> SecondsBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

    private static readonly string? Version = typeof(LimiterTelemetry).Assembly.GetName().Version?.ToString();

    // One source for the process, as ActivitySource is meant to be used; listeners pick it by name.
    private static readonly ActivitySource Source = new(ActivitySourceName, Version);

    private readonly Meter? _ownedMeter;
    private readonly TimeProvider _timeProvider;
    private readonly UpDownCounter<long> _activeSlots;
    private readonly UpDownCounter<long> _queuedRequests;
    private readonly Histogram<double> _timeInQueue;
    private readonly Histogram<double> _slotDuration;
    private readonly Counter<long> _requests;
    private readonly Meter _meter;

    public LimiterTelemetry(ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        Logger = loggerFactory?.CreateLogger<AgentConcurrencyLimiter>() ?? NullLogger<AgentConcurrencyLimiter>.Instance;
        Logs = loggerFactory is not null and not NullLoggerFactory;

        // A factory's meter belongs to the factory (the container disposes it); a meter of our own is disposed with us.
        var meter = _meter = meterFactory?.Create(new MeterOptions(MeterName) { Version = Version }) ?? (_ownedMeter = new Meter(MeterName, Version));
        var bucketAdvice = new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets };
        _activeSlots = meter.CreateUpDownCounter<long>(
            "agent_concurrency.active_slots", "{slot}", "Slots held now: runs of the agent in progress.");
        _queuedRequests = meter.CreateUpDownCounter<long>(
            "agent_concurrency.queued_requests", "{request}", "Requests waiting in the agent's queue now.");
        _timeInQueue = meter.CreateHistogram(
            "agent_concurrency.time_in_queue", "s", "How long requests that had to wait spent in the queue, by how they ended.", advice: bucketAdvice);
        _slotDuration = meter.CreateHistogram(
            "agent_concurrency.slot.duration", "s", "How long slots were held, from grant to release.", advice: bucketAdvice);
        _requests = meter.CreateCounter<long>(
            "agent_concurrency.requests", "{request}", "Finished requests for a slot, by result: acquired, rejected, timed_out, canceled.");
    }

    public ILogger Logger { get; }

    /// <summary>
    /// Whether log events can go anywhere: false without a logger factory (or with the null one), so that events that are
    /// only ever logged need not be published at all.
    /// </summary>
    public bool Logs { get; }

    /// <summary>Whether runs are worth counting under the lock: someone listens to <c>agent_concurrency.active_slots</c>.</summary>
    public bool CountsSlots => _activeSlots.Enabled;

    /// <summary>Whether runs should carry their start time, for <c>agent_concurrency.slot.duration</c>.</summary>
    public bool TimesSlots => _slotDuration.Enabled;

    /// <summary>Whether runs are counted or timed for the slot metrics: one read where neither is, the common case.</summary>
    public bool MeasuresSlots => _activeSlots.Enabled || _slotDuration.Enabled;

    public void Publish(in GateEvent gateEvent)
    {
        try
        {
            var agent = new KeyValuePair<string, object?>(AgentTag, gateEvent.AgentId);
            switch (gateEvent.Kind)
            {
                case GateEventKind.RunStarted:
                    _activeSlots.Add(1, agent);
                    break;
                case GateEventKind.RunEnded:
                    if (gateEvent.Active == 1)
                    {
                        _activeSlots.Add(-1, agent);
                    }

                    if (gateEvent.StartedTimestamp != 0)
                    {
                        _slotDuration.Record(_timeProvider.GetElapsedTime(gateEvent.StartedTimestamp).TotalSeconds, agent);
                    }

                    break;
                case GateEventKind.RunsDiscarded:
                    _activeSlots.Add(-gateEvent.Active, agent);
                    break;
                case GateEventKind.LimitReached:
                    LimiterLog.AgentLimitReached(Logger, gateEvent.AgentId, gateEvent.Active, gateEvent.Limit);
                    break;
                case GateEventKind.LimitLeft:
                    LimiterLog.AgentLimitLeft(Logger, gateEvent.AgentId, gateEvent.Active, gateEvent.Limit);
                    break;
                case GateEventKind.LimitAdapted when Math.Abs(gateEvent.Limit - gateEvent.PreviousLimit) > 1:
                    LimiterLog.AdaptiveLimitChanged(Logger, gateEvent.AgentId, gateEvent.PreviousLimit, gateEvent.Limit, gateEvent.Active);
                    break;
                case GateEventKind.LimitAdapted:
                    LimiterLog.AdaptiveLimitStepped(Logger, gateEvent.AgentId, gateEvent.PreviousLimit, gateEvent.Limit, gateEvent.Active);
                    break;
            }
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }

    /// <summary>
    /// Publishes <c>agent_concurrency.limit</c>, read from <paramref name="state"/> when a listener collects. The state is
    /// held weakly, as by its idle sweep: a meter outlives the limiter in the meter registry, and must not keep it alive.
    /// </summary>
    public void ObserveLimits(LimiterState state)
    {
        var weakState = new WeakReference<LimiterState>(state);
        _meter.CreateObservableGauge(
            "agent_concurrency.limit",
            () => ReadLimits(weakState),
            "{slot}",
            "The agent's limit in force: static, or where its adaptive limit stands now.");
    }

    /// <summary>A request got a slot without waiting.</summary>
    public void Acquired(string agentId) => CountRequest(agentId, RequestResult.Acquired);

    /// <summary>A request came with its token already cancelled.</summary>
    public void CanceledAtOnce(string agentId)
    {
        CountRequest(agentId, RequestResult.Canceled);
        LogFailure(agentId, RequestResult.Canceled, errorCode: null, TimeSpan.Zero);
    }

    /// <summary>A request failed without waiting, for <paramref name="code"/>.</summary>
    public void RefusedAtOnce(string agentId, ConcurrencyErrorCode code)
    {
        var result = ResultOf(code);
        CountRequest(agentId, result);
        // GetName, not ToString: the name without boxing the code, so a refused TryAcquire allocates nothing.
        LogFailure(agentId, result, Enum.GetName(code), TimeSpan.Zero);
    }

    /// <summary>A request was put in the queue; what is returned follows its wait to <see cref="WaitEnded(string, QueuedWait, TimeSpan, Exception)"/>.</summary>
    public QueuedWait Queued(string agentId, int position)
    {
        var counted = false;
        try
        {
            if (_queuedRequests.Enabled)
            {
                _queuedRequests.Add(1, new KeyValuePair<string, object?>(AgentTag, agentId));
                counted = true;
            }

            LimiterLog.RequestQueued(Logger, agentId, position);
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }

        // Only with a listener: reading and restoring the current activity costs two execution-context lookups, a tenth of
        // a hand-off, for an activity nobody would record.
        return new QueuedWait(Source.HasListeners() ? StartWaitActivity(agentId, position) : null, counted);
    }

    /// <summary>
    /// Starts the activity of a wait. It is a child of the caller's activity but never becomes current: the caller's code
    /// goes on while it waits, and the wait ends on whichever thread decides it.
    /// </summary>
    private static Activity? StartWaitActivity(string agentId, int position)
    {
        var callers = Activity.Current;
        Activity? activity = null;
        try
        {
            activity = Source.StartActivity(WaitActivityName, ActivityKind.Internal);
            activity?.SetTag(AgentTag, agentId);
            activity?.SetTag(PositionTag, position);
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
        finally
        {
            RestoreCurrent(callers);
        }

        return activity;
    }

    /// <summary>A queued request left the queue with <paramref name="failure"/>.</summary>
    public void WaitEnded(string agentId, QueuedWait wait, TimeSpan waited, Exception failure)
    {
        var (result, code) = failure switch
        {
            ConcurrencyLimitExceededException limit => (ResultOf(limit.ErrorCode), Enum.GetName(limit.ErrorCode)),
            OperationCanceledException => (RequestResult.Canceled, null),
            ObjectDisposedException => (RequestResult.Rejected, "LimiterDisposed"),
            ArgumentException => (RequestResult.Rejected, "RunIdConflict"),
            _ => (RequestResult.Rejected, failure.GetType().Name),
        };
        WaitEnded(agentId, wait, waited, result, code);
    }

    /// <summary>A queued request left the queue with <paramref name="result"/>; <paramref name="errorCode"/> says why it failed, if it did.</summary>
    public void WaitEnded(string agentId, QueuedWait wait, TimeSpan waited, RequestResult result, string? errorCode)
    {
        try
        {
            var agent = new KeyValuePair<string, object?>(AgentTag, agentId);
            var resultTag = new KeyValuePair<string, object?>(ResultTag, TagValue(result));
            if (wait.CountedQueued)
            {
                _queuedRequests.Add(-1, agent);
            }

            // Enabled first: with no listener, recording still copies its tags through a thread-static buffer.
            if (_timeInQueue.Enabled)
            {
                _timeInQueue.Record(waited.TotalSeconds, agent, resultTag);
            }

            if (_requests.Enabled)
            {
                _requests.Add(1, agent, resultTag);
            }

            if (wait.Activity is { } activity)
            {
                activity.SetTag(ResultTag, TagValue(result));
                if (errorCode is not null)
                {
                    activity.SetTag(ErrorCodeTag, errorCode);
                    activity.SetStatus(ActivityStatusCode.Error, errorCode);
                }
            }
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
        finally
        {
            // Stopped whatever happened above, so the wait's activity never outlives the wait.
            StopQuietly(wait.Activity);
        }

        if (result != RequestResult.Acquired)
        {
            LogFailure(agentId, result, errorCode, waited);
        }
    }

    public void LimitsChanged(LimiterSettings settings)
    {
        try
        {
            LimiterLog.LimitsChanged(Logger, settings);
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }

    public void LimitsRefused(string reason)
    {
        try
        {
            LimiterLog.LimitsChangeRefused(Logger, reason);
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }

    public void Dispose() => _ownedMeter?.Dispose();

    /// <summary>A request that failed for <paramref name="code"/> timed out if it ran out of queue time, and was rejected otherwise.</summary>
    private static RequestResult ResultOf(ConcurrencyErrorCode code) =>
        code == ConcurrencyErrorCode.QueueTimeout ? RequestResult.TimedOut : RequestResult.Rejected;

    private static string TagValue(RequestResult result) => result switch
    {
        RequestResult.Acquired => "acquired",
        RequestResult.Rejected => "rejected",
        RequestResult.TimedOut => "timed_out",
        RequestResult.Canceled => "canceled",
        _ => throw new UnreachableException(),
    };

    /// <summary>
    /// Puts <paramref name="current"/> back as the current activity, if starting or stopping the wait changed it. Setting
    /// Current costs an execution-context copy, so it is only done when needed; and an activity that was stopped meanwhile
    /// cannot be made current again, so then none is, rather than the wait's.
    /// </summary>
    private static void RestoreCurrent(Activity? current)
    {
        if (Activity.Current != current)
        {
            Activity.Current = current is { IsStopped: false } ? current : null;
        }
    }

    private static void StopQuietly(Activity? activity)
    {
        try
        {
            if (activity is not null)
            {
                // Stopping may make the activity's parent current; on the thread that decided the wait, that is not ours to change.
                var current = Activity.Current;
                activity.Stop();
                RestoreCurrent(current);
            }
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }

    /// <summary>
    /// Whether an exception came from an observer (a log provider, a metric or activity listener) and must be dropped:
    /// telemetry runs on the limiter's own paths, between a grant and its caller, and an observer's bug must never cost a
    /// caller its slot, leave a waiter uncompleted or leak a permit. Fatal exceptions still go through.
    /// </summary>
    private static Measurement<int>[] ReadLimits(WeakReference<LimiterState> weakState)
    {
        if (!weakState.TryGetTarget(out var state))
        {
            return [];
        }

        var limits = state.ReadLimits();
        var measurements = new Measurement<int>[limits.Count];
        for (var index = 0; index < limits.Count; index++)
        {
            measurements[index] = new Measurement<int>(limits[index].Value, new KeyValuePair<string, object?>(AgentTag, limits[index].Key));
        }

        return measurements;
    }

    private static bool IsObserverFailure(Exception failure) => failure is not (OutOfMemoryException or StackOverflowException);

    private void CountRequest(string agentId, RequestResult result)
    {
        // Checked first: with no listener, Add still copies its tags through a thread-static buffer.
        if (!_requests.Enabled)
        {
            return;
        }

        try
        {
            _requests.Add(1, new KeyValuePair<string, object?>(AgentTag, agentId), new KeyValuePair<string, object?>(ResultTag, TagValue(result)));
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }

    private void LogFailure(string agentId, RequestResult result, string? errorCode, TimeSpan waited)
    {
        try
        {
            switch (result)
            {
                case RequestResult.TimedOut:
                    LimiterLog.QueueTimeout(Logger, agentId, waited.TotalSeconds);
                    break;
                case RequestResult.Rejected:
                    LimiterLog.RequestRejected(Logger, agentId, errorCode ?? "Unknown");
                    break;
                default:
                    LimiterLog.RequestCanceled(Logger, agentId);
                    break;
            }
        }
        catch (Exception failure) when (IsObserverFailure(failure))
        {
            // See IsObserverFailure.
        }
    }
}
