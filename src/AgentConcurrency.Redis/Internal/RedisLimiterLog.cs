using Microsoft.Extensions.Logging;

namespace AgentConcurrency.Redis.Internal;

/// <summary>The Redis-backed limiter's log events (ids from 101, apart from the in-process limiter's).</summary>
internal static partial class RedisLimiterLog
{
    [LoggerMessage(EventId = 101, EventName = "LeaseLost", Level = LogLevel.Warning,
        Message = "The limiter's lease in Redis lapsed; {Runs} held slots were lost and {Waiters} queued requests failed. Other instances may have been granted their permits.")]
    public static partial void LeaseLost(ILogger logger, int runs, int waiters);

    [LoggerMessage(EventId = 102, EventName = "HeartbeatFailed", Level = LogLevel.Warning,
        Message = "The limiter could not renew its lease in Redis; slots are lost if this lasts {LeaseTtl}.")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception, TimeSpan leaseTtl);

    [LoggerMessage(EventId = 103, EventName = "RunsEndedElsewhere", Level = LogLevel.Information,
        Message = "{Runs} runs held by this process were ended elsewhere (released by id or session, or their owner's lease lapsed).")]
    public static partial void RunsEndedElsewhere(ILogger logger, int runs);

    [LoggerMessage(EventId = 104, EventName = "CleanupDeferred", Level = LogLevel.Warning,
        Message = "A release or queue exit could not reach Redis; it is retried with the next heartbeat.")]
    public static partial void CleanupDeferred(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 105, EventName = "RetireFailed", Level = LogLevel.Warning,
        Message = "The limiter could not hand its slots back to Redis on disposal; they come back when its lease expires.")]
    public static partial void RetireFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 106, EventName = "OptionsRefused", Level = LogLevel.Error,
        Message = "New limiter options were refused; the limits in force stay: {Reason}")]
    public static partial void OptionsRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 107, EventName = "ClaimFailed", Level = LogLevel.Error,
        Message = "Collecting the outcome of queued request {RequestId} failed; the next heartbeat tries again.")]
    public static partial void ClaimFailed(ILogger logger, Exception exception, string requestId);
}
