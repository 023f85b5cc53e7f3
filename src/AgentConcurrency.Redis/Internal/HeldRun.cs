using System.Diagnostics.CodeAnalysis;
using AgentConcurrency.Internal;

namespace AgentConcurrency.Redis.Internal;

/// <summary>
/// A run this process holds a slot of, as Redis knows it: its key and the grant that started it. Slots of the same run
/// (joins) share one. Objects are never reused, so the slot's version is always 0.
/// </summary>
[SuppressMessage(
    "Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The token source has no timer to free, and its token stays with the holder after the run ends.")]
internal sealed class HeldRun(RedisAgentConcurrencyLimiter limiter, string agentId, string? sessionId, string? runId, string key, string grant) : ISlotSource
{
    private const int Held = 0;
    private const int Released = 1;
    private const int Lost = 2;

    private readonly Lock _sync = new();
    private int _state;
    private CancellationTokenSource? _lost;

    public string AgentId { get; } = agentId;

    public string? SessionId { get; } = sessionId;

    public string? RunId { get; } = runId;

    public string Key { get; } = key;

    public string Grant { get; } = grant;

    /// <summary>Gets or sets whether its start was counted in <c>agent_concurrency.active_slots</c> (a run this process started).</summary>
    public bool Counted { get; set; }

    /// <summary>Gets or sets when it started, for <c>agent_concurrency.slot.duration</c>; 0 when not timed.</summary>
    public long StartedTimestamp { get; set; }

    public bool IsHeld(long version) => Volatile.Read(ref _state) == Held;

    public void Release(long version, bool ran)
    {
        if (Interlocked.CompareExchange(ref _state, Released, Held) == Held)
        {
            limiter.RunEnded(this);
            limiter.ReleaseInBackground(this);
        }
    }

    public ValueTask ReleaseAsync(long version)
    {
        if (Interlocked.CompareExchange(ref _state, Released, Held) != Held)
        {
            return default;
        }

        limiter.RunEnded(this);
        return limiter.ReleaseAsync(this);
    }

    /// <summary>Adaptive limits are not kept in Redis: nothing learns from the report.</summary>
    public void ReportOverload(long version)
    {
    }

    public CancellationToken LostToken(long version)
    {
        lock (_sync)
        {
            if (_lost is null)
            {
                _lost = new CancellationTokenSource();
                if (Volatile.Read(ref _state) == Lost)
                {
                    _lost.Cancel();
                }
            }

            return _lost.Token;
        }
    }

    /// <summary>The run ended without a slot of this process releasing it: the slot is no longer held, and says so.</summary>
    /// <returns>Whether the run was held until now.</returns>
    public bool MarkLost()
    {
        if (Interlocked.CompareExchange(ref _state, Lost, Held) != Held)
        {
            return false;
        }

        limiter.RunEnded(this);
        CancellationTokenSource? lost;
        lock (_sync)
        {
            lost = _lost;
        }

        // The token reads as cancelled at once; the holder's callbacks run on the thread pool, not in the limiter's
        // heartbeat or release, and whatever they throw is theirs.
        lost?.CancelAsync().ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return true;
    }
}
