namespace AgentConcurrency.Internal;

/// <summary>
/// Gates that went idle (no holders, no waiters), oldest idle first, as an intrusive list: a sweep looks only at the
/// gates it drops or unlinks plus one, never at every gate. A gate that turned busy again may still be listed until the
/// sweep reaches it (see <see cref="AgentGate.IdleListed"/>). Guarded by the state's lock.
/// </summary>
internal sealed class IdleGateList
{
    private AgentGate? _last;

    public AgentGate? First { get; private set; }

    public void Add(AgentGate gate, long tick)
    {
        gate.IdleSinceTick = tick;
        gate.InIdleList = true;
        gate.IdleListed = true;
        gate.IdlePrevious = _last;
        if (_last is null)
        {
            First = gate;
        }
        else
        {
            _last.IdleNext = gate;
        }

        _last = gate;
    }

    /// <summary>Lists <paramref name="gate"/> last, as idle since <paramref name="tick"/>; a gate already last stays put, with no link written.</summary>
    public void MoveToTail(AgentGate gate, long tick)
    {
        if (gate.InIdleList && gate != _last)
        {
            Remove(gate);
        }

        if (gate.InIdleList)
        {
            gate.IdleSinceTick = tick;
            gate.IdleListed = true;
            return;
        }

        Add(gate, tick);
    }

    public void Remove(AgentGate gate)
    {
        if (gate.IdlePrevious is null)
        {
            First = gate.IdleNext;
        }
        else
        {
            gate.IdlePrevious.IdleNext = gate.IdleNext;
        }

        if (gate.IdleNext is null)
        {
            _last = gate.IdlePrevious;
        }
        else
        {
            gate.IdleNext.IdlePrevious = gate.IdlePrevious;
        }

        gate.IdlePrevious = null;
        gate.IdleNext = null;
        gate.InIdleList = false;
        gate.IdleListed = false;
    }
}
