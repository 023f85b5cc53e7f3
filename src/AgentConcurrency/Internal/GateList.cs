using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace AgentConcurrency.Internal;

/// <summary>
/// Every gate in one dense array, and beside it the numbers a status snapshot shows of each, kept in step as they change.
/// A status reader copies the two arrays under the lock instead of visiting every gate there: with a thousand gates, that
/// visit was most of the time a reader held the lock (each gate is an object of its own, somewhere in memory). The
/// arrays shrink as gates are dropped, so a burst of agents leaves no large array behind. Guarded by the state's lock.
/// </summary>
internal sealed class GateList
{
    private const int InitialLength = 16;

    private AgentGate?[] _gates = new AgentGate?[InitialLength];
    private GateNumbers[] _numbers = new GateNumbers[InitialLength];

    /// <summary>Gets how many gates there are: the first this many places of each array.</summary>
    public int Count { get; private set; }

    /// <summary>Lists a new gate, with its numbers as they stand.</summary>
    public void Add(AgentGate gate)
    {
        if (Count == _gates.Length)
        {
            Resize(Count * 2);
        }

        gate.ListIndex = Count;
        _gates[Count++] = gate;
        Update(gate);
    }

    /// <summary>Removes a gate; the last one takes its place.</summary>
    public void Remove(AgentGate gate)
    {
        Debug.Assert(gate.ListIndex >= 0 && ReferenceEquals(_gates[gate.ListIndex], gate), "A listed gate is where its index says.");
        var last = --Count;
        var moved = _gates[last]!;
        _gates[gate.ListIndex] = moved;
        _numbers[gate.ListIndex] = _numbers[last];
        moved.ListIndex = gate.ListIndex;
        _gates[last] = null;
        gate.ListIndex = -1;

        // Halved at a quarter full, so that adding and dropping around a boundary does not resize every time.
        if (_gates.Length > InitialLength && Count <= _gates.Length / 4)
        {
            Resize(_gates.Length / 2);
        }
    }

    /// <summary>Brings a gate's numbers up to date: after every change of its limit, active count or queue length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Update(AgentGate gate)
    {
        Debug.Assert(gate.ListIndex >= 0 && ReferenceEquals(_gates[gate.ListIndex], gate), "Only a listed gate changes.");
        _numbers[gate.ListIndex] = NumbersOf(gate);
    }

    /// <summary>Copies the first <see cref="Count"/> gates and their numbers.</summary>
    public void CopyTo(AgentGate?[] gates, GateNumbers[] numbers)
    {
        Array.Copy(_gates, gates, Count);
        Array.Copy(_numbers, numbers, Count);
    }

    /// <summary>Whether the list holds exactly the gates of <paramref name="byAgentId"/>, each with its numbers in step, for a debug assertion.</summary>
    public bool IsInStepWith(Dictionary<string, AgentGate> byAgentId)
    {
        if (Count != byAgentId.Count)
        {
            return false;
        }

        for (var index = 0; index < Count; index++)
        {
            var gate = _gates[index]!;
            if (gate.ListIndex != index
                || !byAgentId.TryGetValue(gate.AgentId, out var listed) || !ReferenceEquals(listed, gate)
                || _numbers[index] != NumbersOf(gate))
            {
                return false;
            }
        }

        return true;
    }

    // One place says what is kept of a gate, so the update and the debug check cannot disagree.
    private static GateNumbers NumbersOf(AgentGate gate) => new(gate.Limit, gate.Active, gate.Queued);

    private void Resize(int length)
    {
        Array.Resize(ref _gates, length);
        Array.Resize(ref _numbers, length);
    }
}
