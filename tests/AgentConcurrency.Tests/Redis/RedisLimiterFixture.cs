using AgentConcurrency.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Tests.Redis;

/// <summary>
/// Limiter instances that share one key prefix, each on its own connection as separate processes would be; everything
/// is disposed with the fixture.
/// </summary>
internal sealed class RedisLimiterFixture : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    public string Prefix { get; } = RedisTestServer.UniquePrefix();

    /// <summary>A new instance ("process") with its own connection.</summary>
    public RedisAgentConcurrencyLimiter NewInstance(
        AgentConcurrencyOptions? options = null, TimeSpan? leaseTtl = null, TimeProvider? timeProvider = null) =>
        NewInstance(out _, options, leaseTtl, timeProvider);

    /// <summary>A new instance with its own connection, which the test may cut to simulate a crash.</summary>
    public RedisAgentConcurrencyLimiter NewInstance(
        out ConnectionMultiplexer connection, AgentConcurrencyOptions? options = null, TimeSpan? leaseTtl = null, TimeProvider? timeProvider = null)
    {
        connection = RedisTestServer.NewConnection();
        var redisOptions = new RedisConcurrencyOptions { KeyPrefix = Prefix, LeaseTtl = leaseTtl ?? TimeSpan.FromSeconds(30) };
        var limiter = new RedisAgentConcurrencyLimiter(connection, options ?? new AgentConcurrencyOptions(), redisOptions, timeProvider);
        _owned.Add(limiter);
        _owned.Add(connection);
        return limiter;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
