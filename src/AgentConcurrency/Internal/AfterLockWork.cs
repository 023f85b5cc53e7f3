using System.Runtime.CompilerServices;

namespace AgentConcurrency.Internal;

/// <summary>
/// What was decided under the lock and must happen after it, so that no caller's code (continuations, log providers,
/// metric listeners) ever runs while the lock is held: gate events to publish, then waiters to complete, each in the
/// order decided. Waiters link through themselves, the first event is kept here and any more go to a buffer reused by
/// the thread, so nothing here allocates. The struct stays small, because every acquire and release zeroes one.
/// </summary>
internal struct AfterLockWork
{
    private Waiter? _first;
    private Waiter? _last;

    // Inline, because an operation that publishes anything usually publishes one event (a measured run's start or end),
    // and renting, filling and clearing the thread's buffer for it cost more than recording it. None while its agent is
    // null: every event names one.
    private GateEvent _firstEvent;
    private GateEventBuffer? _moreEvents;

    public void Complete(Waiter waiter)
    {
        waiter.NextToComplete = null;
        if (_last is null)
        {
            _first = waiter;
        }
        else
        {
            _last.NextToComplete = waiter;
        }

        _last = waiter;
    }

    public void Publish(in GateEvent gateEvent)
    {
        if (_firstEvent.AgentId is null)
        {
            _firstEvent = gateEvent;
        }
        else
        {
            (_moreEvents ??= GateEventBuffer.Rent()).Add(gateEvent);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Run(LimiterTelemetry telemetry)
    {
        // Most operations decide nothing for after the lock: the check costs less than the call.
        if (_firstEvent.AgentId is not null || _first is not null)
        {
            RunAll(telemetry);
        }
    }

    /// <summary>Publishes the events, then completes the waiters: a grant's "slot taken" is counted before its caller can release it.</summary>
    private readonly void RunAll(LimiterTelemetry telemetry)
    {
        if (_firstEvent.AgentId is not null)
        {
            telemetry.Publish(_firstEvent);
            _moreEvents?.PublishAndReturn(telemetry);
        }

        for (var waiter = _first; waiter is not null;)
        {
            var next = waiter.NextToComplete;
            waiter.NextToComplete = null;
            waiter.Complete();
            waiter = next;
        }
    }
}
