using System.Threading.RateLimiting;

namespace AgentConcurrency.Internal;

/// <summary>
/// The work behind both rate-limiter adapters: turns a request for permits of an agent into an acquire on the shared
/// limiter, and its outcome into a lease, with <c>ConcurrencyLimiter</c>'s conventions. One per adapter; disposing it
/// fails the requests that adapter has waiting and refuses new ones, and leaves the shared limiter as it is.
/// </summary>
internal sealed class AgentLeaseIssuer : IDisposable
{
    private readonly LimiterState _state;
    private readonly AcquireOptions _options;

    // Every wait of this adapter listens to it, so that disposing the adapter can end exactly its own waits.
    private readonly CancellationTokenSource _disposal = new();
    private readonly CancellationToken _disposalToken;
    private int _disposed;

    public AgentLeaseIssuer(LimiterState state, AcquireOptions options)
    {
        _state = state;
        _options = options;
        _disposalToken = _disposal.Token;
    }

    public TimeProvider TimeProvider => _state.TimeProvider;

    public TimeSpan IdleAgentTimeout => _state.IdleAgentTimeout;

    public RateLimitLease AttemptAcquire(AgentDef agent, int permitCount, LeaseTotals totals)
    {
        ThrowIfPermitCountTooHigh(permitCount);
        ThrowIfDisposed();
        if (permitCount == 0)
        {
            return _state.FindBlocker(agent.Id, agent.MaxConcurrency, _options) is { } blocker
                ? Refuse(blocker, totals)
                : GrantZeroPermits(totals);
        }

        return _state.TryAcquire(agent.Id, agent.MaxConcurrency, _options, out var slot, out var refusal)
            ? Grant(slot, totals)
            : Refuse(refusal, totals);
    }

    public ValueTask<RateLimitLease> AcquireAsync(AgentDef agent, int permitCount, LeaseTotals totals, CancellationToken cancellationToken)
    {
        ThrowIfPermitCountTooHigh(permitCount);
        ThrowIfDisposed();
        if (permitCount == 0 && _state.FindBlocker(agent.Id, agent.MaxConcurrency, _options) is null)
        {
            return new ValueTask<RateLimitLease>(GrantZeroPermits(totals));
        }

        // Zero permits that must wait take a real place in the queue, and hand the slot on the moment it is granted: the
        // request succeeds when it would have been admitted, as ConcurrencyLimiter's does.
        var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposalToken) : null;
        ValueTask<AgentSlot> acquisition;
        try
        {
            acquisition = _state.AcquireAsync(agent.Id, agent.MaxConcurrency, _options, linked?.Token ?? _disposalToken);
        }
        catch
        {
            // Caller errors and disposal of the shared limiter are thrown, as at the limiter's own entry point.
            linked?.Dispose();
            throw;
        }

        if (acquisition.IsCompletedSuccessfully)
        {
            linked?.Dispose();
            return new ValueTask<RateLimitLease>(Grant(acquisition.Result, totals, permitCount));
        }

        return AwaitLeaseAsync(acquisition, linked, permitCount, totals, cancellationToken);
    }

    public RateLimiterStatistics GetStatistics(AgentDef agent, LeaseTotals? totals)
    {
        ThrowIfDisposed();
        var load = _state.ReadLoad(agent.Id, agent.MaxConcurrency);
        return new RateLimiterStatistics
        {
            CurrentAvailablePermits = load.Available,
            CurrentQueuedCount = load.Queued,
            TotalSuccessfulLeases = totals?.Successful ?? 0,
            TotalFailedLeases = totals?.Failed ?? 0,
        };
    }

    /// <summary>
    /// Null while the agent holds any slot or has any request waiting, however they were made; otherwise the time since
    /// this adapter last gave or took back a lease or saw the agent busy. A slot taken and released outside the adapter
    /// between two readings is not seen. Waiters count as busy because a host drops an idle partition by disposing it,
    /// which would fail them; a waiter blocked by a global limit can wait while its agent holds nothing.
    /// </summary>
    public TimeSpan? IdleDuration(AgentDef agent, LeaseTotals totals)
    {
        var load = _state.ReadLoad(agent.Id, agent.MaxConcurrency);
        if (load.Active > 0 || load.Queued > 0)
        {
            totals.MarkBusy();
            return null;
        }

        return totals.IdleFor;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // Ends this adapter's waits, each with a failed lease; the token stays readable for calls already under way.
        _disposal.Cancel();
        _disposal.Dispose();
    }

    private static void ThrowIfPermitCountTooHigh(int permitCount)
    {
        // Each permit is one slot of one agent, the way one ConcurrencyLimiter permit is one unit of its PermitLimit.
        if (permitCount > 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(permitCount), permitCount, "An agent's rate limiter grants one slot per lease: permitCount must be 0 or 1.");
        }
    }

    private static SlotlessLease GrantZeroPermits(LeaseTotals totals)
    {
        totals.Granted(holdsSlot: false);
        return SlotlessLease.ZeroPermitsGranted;
    }

    private static RateLimitLease Grant(AgentSlot slot, LeaseTotals totals, int permitCount = 1)
    {
        if (permitCount == 0)
        {
            slot.ReturnUnused();
            return GrantZeroPermits(totals);
        }

        totals.Granted(holdsSlot: true);
        return new SlotLease(slot, totals);
    }

    private static SlotlessLease Refuse(ConcurrencyErrorCode code, LeaseTotals totals)
    {
        totals.Refused();
        return SlotlessLease.RefusedFor(code);
    }

    private async ValueTask<RateLimitLease> AwaitLeaseAsync(
        ValueTask<AgentSlot> acquisition, CancellationTokenSource? linked, int permitCount, LeaseTotals totals, CancellationToken cancellationToken)
    {
        try
        {
            return Grant(await acquisition.ConfigureAwait(false), totals, permitCount);
        }
        catch (OperationCanceledException canceled) when (cancellationToken.IsCancellationRequested)
        {
            // The caller's own token, not the linked one the limiter saw: callers match on it.
            throw new TaskCanceledException("The wait for a slot was canceled.", canceled, cancellationToken);
        }
        catch (OperationCanceledException) when (_disposalToken.IsCancellationRequested)
        {
            // Not counted as a failed lease, as ConcurrencyLimiter does not count the requests its disposal fails.
            return SlotlessLease.Disposed;
        }
        catch (ObjectDisposedException)
        {
            // The shared limiter was disposed while the request waited: the waiter gets a failed lease, as on our disposal.
            return SlotlessLease.Disposed;
        }
        catch (ConcurrencyLimitExceededException refused)
        {
            return Refuse(refused.ErrorCode, totals);
        }
        finally
        {
            linked?.Dispose();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, typeof(RateLimiter));
}
