using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentConcurrency.Internal;

/// <summary>Builds the container's limiter from what the container holds: options, clock, logging, metrics, known agents.</summary>
internal static class HostedLimiterFactory
{
    public static AgentConcurrencyLimiter Create(IServiceProvider provider)
    {
        // CurrentValue runs the validators: invalid options fail here too, not only at host start.
        var options = provider.GetRequiredService<IOptionsMonitor<AgentConcurrencyOptions>>().CurrentValue;
        var limiter = new AgentConcurrencyLimiter(
            options,
            provider.GetService<TimeProvider>(),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<IMeterFactory>(),
            provider.GetServices<AgentDef>());
        limiter.OwnOptionsSubscription(OptionsReloadSubscription.Start(provider, limiter.UpdateOptions, limiter.ReportRefusedOptions));
        return limiter;
    }
}
