using AgentConcurrency;

namespace AgentApi;

/// <summary>What <see cref="RunRegistry.Start"/> did: a run started or queued, an unknown agent, or a refusal.</summary>
internal sealed record StartOutcome(RunView? Run, bool UnknownAgent = false, ConcurrencyErrorCode? Refusal = null);
