namespace AgentConcurrency.Internal;

/// <summary>The one check of an <see cref="AgentDef"/>, shared by the limiter and the hosting registration, so both refuse alike.</summary>
internal static class AgentDefRules
{
    /// <summary>Throws if <paramref name="agent"/> could never run, naming <paramref name="paramName"/>.</summary>
    public static void ThrowIfInvalid(AgentDef agent, string paramName)
    {
        ArgumentNullException.ThrowIfNull(agent, paramName);
        if (agent.Id is null)
        {
            throw new ArgumentNullException(paramName, "AgentDef.Id must not be null.");
        }

        if (string.IsNullOrWhiteSpace(agent.Id))
        {
            throw new ArgumentException("AgentDef.Id must not be empty or whitespace.", paramName);
        }

        // Checked even when AgentLimits overrides it: a definition that could never run is a bug at the call site.
        if (agent.MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, agent.MaxConcurrency, "AgentDef.MaxConcurrency must be at least 1.");
        }
    }
}
