namespace AgentConcurrency.Internal;

/// <summary>The limiter-wide counts and limits as read under the lock, for a status snapshot built after it.</summary>
internal readonly record struct GlobalReading(int ActiveSessions, int ActiveRuns, int? MaxParallelSessions, int? MaxParallelRuns);
