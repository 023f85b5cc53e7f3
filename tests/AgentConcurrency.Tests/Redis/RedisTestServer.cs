using StackExchange.Redis;

namespace AgentConcurrency.Tests.Redis;

/// <summary>
/// The Redis server the Redis tests run against: <c>AGENT_CONCURRENCY_REDIS</c> (a StackExchange.Redis configuration
/// string; <c>.ci/run</c> starts a server and sets it), else <c>127.0.0.1:6379</c>. Where none answers, the tests skip
/// with the reason, unless <c>AGENT_CONCURRENCY_REDIS_REQUIRED=1</c> (set by CI), where they fail.
/// </summary>
internal static class RedisTestServer
{
    private static readonly Lazy<(ConnectionMultiplexer? Connection, string? Unreachable)> Shared = new(ConnectShared);

    public static string Configuration => Environment.GetEnvironmentVariable("AGENT_CONCURRENCY_REDIS") is { Length: > 0 } configured
        ? configured
        : "127.0.0.1:6379";

    /// <summary>The connection the tests share; skips (or fails, where Redis is required) when no server answers.</summary>
    public static IConnectionMultiplexer Connection => Shared.Value.Connection ?? SkipOrFail();

    /// <summary>A connection of its own, as another process would have: its own pipeline, subscriptions and failures.</summary>
    public static ConnectionMultiplexer NewConnection()
    {
        _ = Connection;
        return ConnectionMultiplexer.Connect(Options());
    }

    /// <summary>A key prefix no other test uses, so that tests run in parallel on one server.</summary>
    public static string UniquePrefix() => $"test:{Guid.NewGuid():N}:";

    private static IConnectionMultiplexer SkipOrFail()
    {
        var reason = $"No Redis server answered at {Configuration} ({Shared.Value.Unreachable}). Set AGENT_CONCURRENCY_REDIS to one; .ci/run starts one.";
        if (Environment.GetEnvironmentVariable("AGENT_CONCURRENCY_REDIS_REQUIRED") == "1")
        {
            throw new InvalidOperationException(reason);
        }

        Skip.If(true, reason);
        throw new InvalidOperationException("Unreachable: Skip.If throws.");
    }

    private static ConfigurationOptions Options()
    {
        var options = ConfigurationOptions.Parse(Configuration);
        options.ConnectTimeout = 2000;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return options;
    }

    private static (ConnectionMultiplexer?, string?) ConnectShared()
    {
        try
        {
            return (ConnectionMultiplexer.Connect(Options()), null);
        }
        catch (RedisConnectionException unreachable)
        {
            return (null, unreachable.Message);
        }
    }
}
