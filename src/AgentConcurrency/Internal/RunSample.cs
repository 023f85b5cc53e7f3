namespace AgentConcurrency.Internal;

/// <summary>What one ended run tells an adaptive limit.</summary>
/// <param name="Duration">From its grant to its release.</param>
/// <param name="Overloaded">Whether its holder called <see cref="AgentSlot.ReportOverload"/>.</param>
/// <param name="TookLastSlot">Whether it took the agent's last free slot when it started: only such runs show that the limit was in use.</param>
/// <param name="Epoch">The limit's <see cref="AdaptiveLimit.Epoch"/> when it started: which limit it ran under.</param>
internal readonly record struct RunSample(TimeSpan Duration, bool Overloaded, bool TookLastSlot, long Epoch);
