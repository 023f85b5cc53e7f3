using System.Collections;

namespace AgentConcurrency.Internal;

/// <summary>
/// One agent's queued requests in a status snapshot: a range of the waiters copied under the lock, each described as a
/// <see cref="QueuedRequest"/> the first time it is read. A reader that only counts (or never looks at an agent's queue)
/// allocates nothing per request, which keeps a snapshot of a long queue cheap. Safe to read from several threads.
/// </summary>
internal sealed class QueuedRequestList(SnapshotWaiters snapshot, int start, int count) : IReadOnlyList<QueuedRequest>
{
    // Only fields of the waiters that never change while they are queued are read, and the enqueue time, which is set once
    // (by the first snapshot to describe the request, if its caller has not dated it yet): a snapshot never changes,
    // whenever it is read.
    private QueuedRequest?[]? _described;

    public int Count => count;

    public QueuedRequest this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
            var described = _described ?? Interlocked.CompareExchange(ref _described, new QueuedRequest?[count], null) ?? _described!;

            // Two readers may describe the same request at once; the first one published wins, so both see one object.
            return described[index]
                ?? Interlocked.CompareExchange(ref described[index], snapshot.Describe(start + index, index + 1), null)
                ?? described[index]!;
        }
    }

    public IEnumerator<QueuedRequest> GetEnumerator()
    {
        for (var index = 0; index < count; index++)
        {
            yield return this[index];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
