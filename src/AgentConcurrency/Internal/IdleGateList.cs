namespace AgentConcurrency.Internal;

/// <summary>
/// Gates with no holders and no waiters, oldest idle first, as an intrusive list: a sweep looks only at the gates it
/// drops plus one, never at every gate. Guarded by the state's lock.
/// </summary>
internal sealed class IdleGateList
{
    private AgentGate? _last;

    public AgentGate? First { get; private set; }

    public void Add(AgentGate gate, long tick)
    {
        gate.IdleSinceTick = tick;
        gate.InIdleList = true;
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
    }
}
