namespace AgentConcurrency.Internal;

/// <summary>
/// The wall clock and the timestamp clock read together, so that a timestamp taken earlier can be dated without a
/// wall-clock read at the time: the queue pays one clock read per request, and status readers date them all at once.
/// </summary>
internal readonly struct ClockReading
{
    private readonly TimeProvider _timeProvider;
    private readonly DateTimeOffset _utcNow;
    private readonly long _timestamp;

    private ClockReading(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _timestamp = timeProvider.GetTimestamp();
        _utcNow = timeProvider.GetUtcNow();
    }

    public static ClockReading Now(TimeProvider timeProvider) => new(timeProvider);

    /// <summary>The timestamp clock as read.</summary>
    public long Timestamp => _timestamp;

    /// <summary>The wall-clock time at which <paramref name="timestamp"/> was taken.</summary>
    public DateTimeOffset DateOf(long timestamp) => _utcNow - _timeProvider.GetElapsedTime(timestamp, _timestamp);
}
