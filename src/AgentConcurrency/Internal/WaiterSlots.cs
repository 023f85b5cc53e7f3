namespace AgentConcurrency.Internal;

/// <summary>
/// The queued waiters again, in no order, in one array that a status reader can copy at memory speed: the reader holds
/// the lock for that copy only and puts the waiters in serving order after it (<see cref="Waiter.Sequence"/> and
/// <see cref="Waiter.Priority"/> never change). Freed places are reused; the array shrinks back once the queue is empty.
/// Guarded by the state's lock.
/// </summary>
internal sealed class WaiterSlots
{
    private const int InitialLength = 16;

    // Past this, an emptied queue gives its array back rather than keep the memory of its longest burst.
    private const int LengthKeptWhenEmpty = 1024;

    private readonly Stack<int> _free = new();
    private Waiter?[] _slots = new Waiter?[InitialLength];
    private int _count;

    /// <summary>Gets how many places have been used; the live waiters are among the first this many, with gaps.</summary>
    public int Used { get; private set; }

    public void Add(Waiter waiter)
    {
        if (!_free.TryPop(out var index))
        {
            index = Used++;
            if (index == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }
        }

        _slots[index] = waiter;
        waiter.SlotIndex = index;
        _count++;
    }

    public void Remove(Waiter waiter)
    {
        _slots[waiter.SlotIndex] = null;
        _count--;
        if (_count > 0)
        {
            _free.Push(waiter.SlotIndex);
            return;
        }

        // Empty: start over, so the places are dense again (and small again after a burst).
        _free.Clear();
        Used = 0;
        if (_slots.Length > LengthKeptWhenEmpty)
        {
            _slots = new Waiter?[InitialLength];
        }
    }

    /// <summary>Copies the first <see cref="Used"/> places, gaps included, to <paramref name="destination"/>.</summary>
    public void CopyTo(Waiter?[] destination) => Array.Copy(_slots, destination, Used);
}
