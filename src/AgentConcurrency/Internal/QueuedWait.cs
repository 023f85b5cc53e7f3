using System.Diagnostics;

namespace AgentConcurrency.Internal;

/// <summary>The telemetry of one queued request's wait: its trace, and whether its enqueue was counted (so its dequeue must be).</summary>
/// <param name="Activity">The wait's activity, when someone listens to the source.</param>
/// <param name="CountedQueued">Whether <c>agent_concurrency.queued_requests</c> got its +1.</param>
internal readonly record struct QueuedWait(Activity? Activity, bool CountedQueued);
