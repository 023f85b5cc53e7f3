using AgentConcurrency.Redis;
using AgentConcurrency.Tests.Contract;

namespace AgentConcurrency.Tests.Redis;

/// <summary>The contract, kept by the <see cref="RedisAgentConcurrencyLimiter"/> against a real Redis server.</summary>
public sealed class RedisLimiterContractTests : LimiterContractTests
{
    private readonly string _prefix = RedisTestServer.UniquePrefix();

    protected override IAgentConcurrencyLimiter CreateLimiter(AgentConcurrencyOptions options, TimeProvider timeProvider) =>
        new RedisAgentConcurrencyLimiter(RedisTestServer.Connection, options, new RedisConcurrencyOptions { KeyPrefix = _prefix }, timeProvider);
}
