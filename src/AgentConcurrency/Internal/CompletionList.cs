namespace AgentConcurrency.Internal;

/// <summary>
/// Waiters whose outcome was decided under the lock, in the order decided, completed after the lock is left so that no
/// caller's code ever runs while the lock is held. Links through the waiters themselves: nothing is allocated.
/// </summary>
internal struct CompletionList
{
    private Waiter? _first;
    private Waiter? _last;

    public void Add(Waiter waiter)
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

    public readonly void CompleteAll()
    {
        for (var waiter = _first; waiter is not null;)
        {
            var next = waiter.NextToComplete;
            waiter.NextToComplete = null;
            waiter.Complete();
            waiter = next;
        }
    }
}
