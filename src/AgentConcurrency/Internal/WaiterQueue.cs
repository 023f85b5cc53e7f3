using System.Diagnostics;

namespace AgentConcurrency.Internal;

/// <summary>
/// Every waiter of a limiter in serving order (priority descending, then arrival), as an intrusive doubly linked list:
/// enqueue at equal priority and removal are O(1) and allocate nothing. Guarded by the state's lock.
/// </summary>
internal sealed class WaiterQueue
{
    private Waiter? _last;

    public Waiter? First { get; private set; }

    public int Count { get; private set; }

    /// <summary>Inserts <paramref name="waiter"/> after every waiter it must not overtake.</summary>
    /// <returns>How many waiters of the same gate it was placed ahead of.</returns>
    public int Insert(Waiter waiter)
    {
        Debug.Assert(!waiter.IsQueued, "A waiter is queued once.");

        // Walk back from the tail: with equal priorities (FIFO) the new waiter goes last without a single step.
        var after = _last;
        var sameGateBehind = 0;
        while (after is not null && after.Priority < waiter.Priority)
        {
            if (after.Gate == waiter.Gate)
            {
                sameGateBehind++;
            }

            after = after.Previous;
        }

        waiter.Previous = after;
        waiter.Next = after is null ? First : after.Next;
        if (waiter.Next is null)
        {
            _last = waiter;
        }
        else
        {
            waiter.Next.Previous = waiter;
        }

        if (after is null)
        {
            First = waiter;
        }
        else
        {
            after.Next = waiter;
        }

        waiter.IsQueued = true;
        Count++;
        return sameGateBehind;
    }

    public void Remove(Waiter waiter)
    {
        Debug.Assert(waiter.IsQueued, "Only a queued waiter can be removed.");
        if (waiter.Previous is null)
        {
            First = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _last = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.IsQueued = false;
        Count--;
    }
}
