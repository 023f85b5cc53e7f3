using System.Diagnostics.Metrics;
using AgentConcurrency;
using AgentConcurrency.Internal;
using AgentConcurrency.Redis;
using AgentConcurrency.Redis.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Moves the limiter that <c>AddAgentConcurrency</c> registered into Redis, shared by every process that uses the same Redis and key prefix.</summary>
public static class AgentConcurrencyRedisBuilderExtensions
{
    /// <summary>
    /// Serves <see cref="IAgentConcurrencyLimiter"/> (and <see cref="RedisAgentConcurrencyLimiter"/>) from Redis, on a connection it
    /// opens from <paramref name="configuration"/> and closes when the container is disposed. The connection does not
    /// hold commands back while Redis is away: acquiring fails at once with <see cref="ConcurrencyStoreUnavailableException"/>,
    /// and the host starts even when Redis is down.
    /// </summary>
    /// <param name="builder">The builder <c>AddAgentConcurrency</c> returned.</param>
    /// <param name="configuration">A StackExchange.Redis configuration string, such as <c>localhost:6379</c>.</param>
    /// <param name="configure">Sets the key prefix and lease; validated when the host starts.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// Resolving the in-process <see cref="AgentConcurrencyLimiter"/> class then throws <see cref="InvalidOperationException"/>:
    /// its limits would be its own process's, silently not shared.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configuration"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="configuration"/> is empty, whitespace or not a valid configuration string.</exception>
    public static AgentConcurrencyBuilder UseRedis(this AgentConcurrencyBuilder builder, string configuration, Action<RedisConcurrencyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        var connectionOptions = ConfigurationOptions.Parse(configuration);
        connectionOptions.AbortOnConnectFail = false;
        connectionOptions.BacklogPolicy = BacklogPolicy.FailFast;
        return Register(builder, configure, () => (ConnectionMultiplexer.Connect(connectionOptions), true));
    }

    /// <summary>
    /// Serves <see cref="IAgentConcurrencyLimiter"/> from a <see cref="RedisAgentConcurrencyLimiter"/> on a connection the
    /// application owns. Give it <c>BacklogPolicy.FailFast</c> for acquires to fail at once while Redis is away; the
    /// limiter also refuses at once while the connection reports itself disconnected.
    /// </summary>
    /// <param name="builder">The builder <c>AddAgentConcurrency</c> returned.</param>
    /// <param name="connection">The connection; the limiter does not dispose it.</param>
    /// <param name="configure">Sets the key prefix and lease; validated when the host starts.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="connection"/> is null.</exception>
    public static AgentConcurrencyBuilder UseRedis(this AgentConcurrencyBuilder builder, IConnectionMultiplexer connection, Action<RedisConcurrencyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(connection);
        return Register(builder, configure, () => (connection, false));
    }

    private static AgentConcurrencyBuilder Register(
        AgentConcurrencyBuilder builder, Action<RedisConcurrencyOptions>? configure, Func<(IConnectionMultiplexer Connection, bool Owned)> connect)
    {
        var services = builder.Services;
        var redisOptions = services.AddOptions<RedisConcurrencyOptions>().ValidateOnStart();
        if (configure is not null)
        {
            redisOptions.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisConcurrencyOptions>, RedisConcurrencyOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentConcurrencyOptions>, RedisLimitsValidator>());
        services.Replace(ServiceDescriptor.Singleton(provider => Create(provider, connect)));
        services.Replace(ServiceDescriptor.Singleton<IAgentConcurrencyLimiter>(static provider => provider.GetRequiredService<RedisAgentConcurrencyLimiter>()));

        // Code that asks for the in-process class would get limits of its own, silently not shared: it fails instead.
        services.Replace(ServiceDescriptor.Singleton<AgentConcurrencyLimiter>(static _ => throw new InvalidOperationException(
            "The limiter is kept in Redis (UseRedis): resolve IAgentConcurrencyLimiter (or RedisAgentConcurrencyLimiter), not the in-process AgentConcurrencyLimiter, whose limits no other process would share.")));
        return builder;
    }

    private static RedisAgentConcurrencyLimiter Create(IServiceProvider provider, Func<(IConnectionMultiplexer Connection, bool Owned)> connect)
    {
        // CurrentValue runs the validators: invalid options fail here too, not only at host start.
        var options = provider.GetRequiredService<IOptionsMonitor<AgentConcurrencyOptions>>().CurrentValue;
        var redisOptions = provider.GetRequiredService<IOptionsMonitor<RedisConcurrencyOptions>>().CurrentValue;
        var (connection, owned) = connect();
        RedisAgentConcurrencyLimiter limiter;
        try
        {
            limiter = new RedisAgentConcurrencyLimiter(
                connection,
                owned,
                options,
                redisOptions,
                provider.GetService<TimeProvider>(),
                provider.GetService<ILoggerFactory>(),
                provider.GetService<IMeterFactory>(),
                provider.GetServices<AgentDef>());
        }
        catch when (owned)
        {
            // Nobody else will close the connection opened for a limiter that never existed.
            connection.Dispose();
            throw;
        }

        limiter.OwnOptionsSubscription(OptionsReloadSubscription.Start(provider, limiter.UpdateOptions, limiter.ReportRefusedOptions));
        return limiter;
    }
}
