using System.Runtime.CompilerServices;

namespace AgentConcurrency.Internal;

/// <summary>
/// What was decided under the lock and must happen after it, so that no caller's code (continuations, log providers,
/// metric listeners) ever runs while the lock is held: gate events to publish, then waiters to complete, each in the
/// order decided. Waiters link through themselves and the first few events sit inline, so the uncontended path
/// allocates nothing.
/// </summary>
internal struct AfterLockWork
{
    private Waiter? _first;
    private Waiter? _last;
    private InlineGateEvents _events;
    private int _eventCount;
    private List<GateEvent>? _moreEvents;

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
        if (_eventCount < InlineGateEvents.Length)
        {
            _events[_eventCount++] = gateEvent;
        }
        else
        {
            (_moreEvents ??= []).Add(gateEvent);
        }
    }

    /// <summary>Publishes the events, then completes the waiters: a grant's "slot taken" is counted before its caller can release it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Run(LimiterTelemetry telemetry)
    {
        // Most operations decide nothing for after the lock: the check costs less than the call.
        if (_eventCount != 0 || _first is not null)
        {
            RunAll(telemetry);
        }
    }

    private readonly void RunAll(LimiterTelemetry telemetry)
    {
        // Telemetry never throws (it guards every observer), so the waiters below are always completed.
        for (var index = 0; index < _eventCount; index++)
        {
            telemetry.Publish(_events[index]);
        }

        if (_moreEvents is not null)
        {
            foreach (var gateEvent in _moreEvents)
            {
                telemetry.Publish(gateEvent);
            }
        }

        for (var waiter = _first; waiter is not null;)
        {
            var next = waiter.NextToComplete;
            waiter.NextToComplete = null;
            waiter.Complete();
            waiter = next;
        }
    }

    [InlineArray(Length)]
    private struct InlineGateEvents
    {
        // Enough for a release that admits one waiter: run ended, limit left, run started, limit reached.
        public const int Length = 4;

        private GateEvent _first;
    }
}
