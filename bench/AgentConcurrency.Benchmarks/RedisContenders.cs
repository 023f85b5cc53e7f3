using AgentConcurrency.Redis;
using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// The Redis server the Redis suites run against (<c>AGENT_CONCURRENCY_REDIS</c>, else <c>127.0.0.1:6379</c>), and the
/// two contenders on it: our limiter and DistributedLock's <see cref="RedisDistributedSemaphore"/>, the distributed
/// semaphore a .NET user would otherwise pick. Each "process" is a connection of its own.
/// </summary>
internal static class RedisContenders
{
    public static string Configuration => Environment.GetEnvironmentVariable("AGENT_CONCURRENCY_REDIS") is { Length: > 0 } configured
        ? configured
        : "127.0.0.1:6379";

    public static ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect(Configuration);

    public static RedisAgentConcurrencyLimiter Limiter(IConnectionMultiplexer connection, string prefix) =>
        new(connection, new AgentConcurrencyOptions { MaxParallelRuns = null, MaxParallelSessions = null }, new RedisConcurrencyOptions { KeyPrefix = prefix });

    public static RedisDistributedSemaphore Semaphore(IConnectionMultiplexer connection, string name, int maxCount) =>
        new(name, maxCount, connection.GetDatabase());

    public static string UniquePrefix() => $"bench:{Guid.NewGuid():N}:";
}
