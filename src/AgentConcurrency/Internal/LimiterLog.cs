using Microsoft.Extensions.Logging;

namespace AgentConcurrency.Internal;

/// <summary>The limiter's log events. The event ids are stable: dashboards and alerts are written against them.</summary>
internal static partial class LimiterLog
{
    [LoggerMessage(EventId = 1, EventName = "RequestQueued", Level = LogLevel.Debug,
        Message = "Request for agent '{AgentId}' queued at position {Position}.")]
    public static partial void RequestQueued(ILogger logger, string agentId, int position);

    [LoggerMessage(EventId = 2, EventName = "RequestRejected", Level = LogLevel.Warning,
        Message = "Request for agent '{AgentId}' rejected: {ErrorCode}.")]
    public static partial void RequestRejected(ILogger logger, string agentId, string errorCode);

    [LoggerMessage(EventId = 3, EventName = "QueueTimeout", Level = LogLevel.Warning,
        Message = "Request for agent '{AgentId}' timed out after {WaitSeconds:0.###} s in the queue.")]
    public static partial void QueueTimeout(ILogger logger, string agentId, double waitSeconds);

    [LoggerMessage(EventId = 4, EventName = "AgentLimitReached", Level = LogLevel.Information,
        Message = "Agent '{AgentId}' reached its limit: {Active} of {Limit} slots held; new requests wait.")]
    public static partial void AgentLimitReached(ILogger logger, string agentId, int active, int limit);

    [LoggerMessage(EventId = 5, EventName = "AgentLimitLeft", Level = LogLevel.Information,
        Message = "Agent '{AgentId}' is below its limit again: {Active} of {Limit} slots held.")]
    public static partial void AgentLimitLeft(ILogger logger, string agentId, int active, int limit);

    [LoggerMessage(EventId = 6, EventName = "LimitsChanged", Level = LogLevel.Information,
        Message = "Limits changed: {Limits}.")]
    public static partial void LimitsChanged(ILogger logger, LimiterSettings limits);

    [LoggerMessage(EventId = 7, EventName = "LimitsChangeRefused", Level = LogLevel.Error,
        Message = "New AgentConcurrency options were refused; the previous limits stay in force. {Reason}")]
    public static partial void LimitsChangeRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 8, EventName = "RequestCanceled", Level = LogLevel.Debug,
        Message = "Request for agent '{AgentId}' was canceled by its caller.")]
    public static partial void RequestCanceled(ILogger logger, string agentId);

    [LoggerMessage(EventId = 9, EventName = "AdaptiveLimitChanged", Level = LogLevel.Information,
        Message = "Agent '{AgentId}' limit adapted from {PreviousLimit} to {Limit}; {Active} slots held.")]
    public static partial void AdaptiveLimitChanged(ILogger logger, string agentId, int previousLimit, int limit, int active);

    [LoggerMessage(EventId = 10, EventName = "AdaptiveLimitStepped", Level = LogLevel.Debug,
        Message = "Agent '{AgentId}' limit adapted from {PreviousLimit} to {Limit} by one step; {Active} slots held.")]
    public static partial void AdaptiveLimitStepped(ILogger logger, string agentId, int previousLimit, int limit, int active);
}
