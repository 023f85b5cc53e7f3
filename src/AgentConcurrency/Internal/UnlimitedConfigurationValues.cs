using Microsoft.Extensions.Configuration;

namespace AgentConcurrency.Internal;

/// <summary>
/// Lets configuration say "no limit". The binder skips empty values, so a key present but empty (<c>""</c>, or
/// <c>null</c> in JSON) would leave a limit at its default of 100 or 50; this reads such keys as <see langword="null"/>,
/// which is what "unlimited" is in code.
/// </summary>
internal static class UnlimitedConfigurationValues
{
    public static void Apply(AgentConcurrencyOptions options, IConfiguration configuration)
    {
        if (IsEmpty(configuration, nameof(options.MaxParallelSessions)))
        {
            options.MaxParallelSessions = null;
        }

        if (IsEmpty(configuration, nameof(options.MaxParallelRuns)))
        {
            options.MaxParallelRuns = null;
        }

        if (IsEmpty(configuration, nameof(options.MaxConcurrencyPerSource)))
        {
            options.MaxConcurrencyPerSource = null;
        }

        if (IsEmpty(configuration, nameof(options.QueueLimit)))
        {
            options.QueueLimit = null;
        }

        if (IsEmpty(configuration, nameof(options.QueueTimeout)))
        {
            options.QueueTimeout = null;
        }
    }

    private static bool IsEmpty(IConfiguration configuration, string key) => configuration.GetSection(key).Value is "";
}
