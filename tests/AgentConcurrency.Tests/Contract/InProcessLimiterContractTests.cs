namespace AgentConcurrency.Tests.Contract;

/// <summary>The contract, kept by the in-process <see cref="AgentConcurrencyLimiter"/>.</summary>
public sealed class InProcessLimiterContractTests : LimiterContractTests
{
    protected override IAgentConcurrencyLimiter CreateLimiter(AgentConcurrencyOptions options, TimeProvider timeProvider) =>
        new AgentConcurrencyLimiter(options, timeProvider);
}
