using System.Diagnostics.Metrics;
using AgentConcurrency;
using AgentConcurrency.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an <see cref="AgentConcurrencyLimiter"/> in a service collection.</summary>
public static class AgentConcurrencyServiceCollectionExtensions
{
    /// <summary>The configuration section the options are usually bound from, and the prefix of every key in validation messages.</summary>
    public const string DefaultSectionName = "AgentConcurrency";

    /// <summary>
    /// Registers one <see cref="AgentConcurrencyLimiter"/> singleton, served as itself and as
    /// <see cref="IAgentConcurrencyLimiter"/>, with its options validated when the host starts. Safe to call more than once:
    /// the limiter is registered once, and the options of every call apply in order.
    /// </summary>
    /// <remarks>
    /// The limiter uses the container's <see cref="TimeProvider"/>, <see cref="ILoggerFactory"/> and
    /// <see cref="IMeterFactory"/> when they are registered, knows every <see cref="AgentDef"/> registered in the container
    /// from the start, follows option changes in place, and is disposed with the container.
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to register agents with.</returns>
    public static AgentConcurrencyBuilder AddAgentConcurrency(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<AgentConcurrencyOptions>().ValidateOnStart();
        services.TryAddSingleton(new OptionsKeyPrefix(DefaultSectionName));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentConcurrencyOptions>, AgentConcurrencyOptionsValidator>());
        services.TryAddSingleton(static provider => HostedLimiterFactory.Create(provider));
        services.TryAddSingleton<IAgentConcurrencyLimiter>(static provider => provider.GetRequiredService<AgentConcurrencyLimiter>());
        return new AgentConcurrencyBuilder(services);
    }

    /// <summary>Registers the limiter as <see cref="AddAgentConcurrency(IServiceCollection)"/> does, and configures its options in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; runs after configuration binding registered earlier, and before what is registered later.</param>
    /// <returns>A builder to register agents with.</returns>
    public static AgentConcurrencyBuilder AddAgentConcurrency(this IServiceCollection services, Action<AgentConcurrencyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddAgentConcurrency();
        services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Registers the limiter as <see cref="AddAgentConcurrency(IServiceCollection)"/> does, and binds its options from
    /// <paramref name="configuration"/>, a section such as <c>AgentConcurrency</c> whose keys mirror the option names
    /// (<c>MaxParallelRuns</c>, <c>AgentLimits:cookie</c>, <c>WhenFull</c>, <c>QueueTimeout</c>, ...); an empty value
    /// (or JSON <c>null</c>) means no limit. When the
    /// configuration reloads, the limiter's limits change in place; invalid new values are logged and refused.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind; its path prefixes every key in validation messages.</param>
    /// <returns>A builder to register agents with.</returns>
    public static AgentConcurrencyBuilder AddAgentConcurrency(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddAgentConcurrency();

        // Messages name the keys where they were really read; the root configuration has no prefix.
        services.Replace(ServiceDescriptor.Singleton(new OptionsKeyPrefix((configuration as IConfigurationSection)?.Path ?? string.Empty)));
        services.AddOptions<AgentConcurrencyOptions>()
            .Bind(configuration)
            .Configure(options => UnlimitedConfigurationValues.Apply(options, configuration));
        return builder;
    }
}
