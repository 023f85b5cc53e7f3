using AgentConcurrency;
using AgentConcurrency.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers agents with the limiter that <c>AddAgentConcurrency</c> registered, and anything else built on it.</summary>
public sealed class AgentConcurrencyBuilder
{
    internal AgentConcurrencyBuilder(IServiceCollection services) => Services = services;

    /// <summary>Gets the service collection the limiter is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Makes <paramref name="agent"/> known to the limiter from the start: its status is listed before its first request
    /// and its gate is never dropped while idle. Its limit is <see cref="AgentDef.MaxConcurrency"/> unless
    /// <see cref="AgentConcurrencyOptions.AgentLimits"/> overrides it. Registered as an <see cref="AgentDef"/> service, which
    /// any other code may also do; when two share an id, the later one wins.
    /// </summary>
    /// <param name="agent">The agent.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="agent"/> or its id is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">Its id is empty or whitespace.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Its <see cref="AgentDef.MaxConcurrency"/> is below 1.</exception>
    public AgentConcurrencyBuilder AddAgent(AgentDef agent)
    {
        AgentDefRules.ThrowIfInvalid(agent, nameof(agent));
        Services.AddSingleton(agent);
        return this;
    }

    /// <summary>Makes every agent of <paramref name="agents"/> known to the limiter, as <see cref="AddAgent(AgentDef)"/> does.</summary>
    /// <param name="agents">The agents.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="agents"/> is <see langword="null"/>, or one agent or its id is.</exception>
    /// <exception cref="ArgumentException">An agent's id is empty or whitespace; nothing was registered.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An agent's <see cref="AgentDef.MaxConcurrency"/> is below 1; nothing was registered.</exception>
    public AgentConcurrencyBuilder AddAgents(IEnumerable<AgentDef> agents)
    {
        ArgumentNullException.ThrowIfNull(agents);
        // All checked first: a bad agent half-way must not leave the ones before it registered.
        var list = agents.ToList();
        foreach (var agent in list)
        {
            AgentDefRules.ThrowIfInvalid(agent, nameof(agents));
        }

        foreach (var agent in list)
        {
            Services.AddSingleton(agent);
        }

        return this;
    }
}
