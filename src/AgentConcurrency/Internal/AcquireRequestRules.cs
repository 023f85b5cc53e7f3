namespace AgentConcurrency.Internal;

/// <summary>The rules every limiter applies to a request's options before it touches any count.</summary>
internal static class AcquireRequestRules
{
    /// <summary>
    /// Throws if the agent breaks its rules (naming the <c>agent</c> argument), or the options are null, have a blank id or
    /// a queue timeout out of range (naming the <c>options</c> argument). Every acquire of either limiter checks this first.
    /// </summary>
    public static void ThrowIfInvalid(AgentDef agent, AcquireOptions options)
    {
        AgentDefRules.ThrowIfInvalid(agent, nameof(agent));
        ArgumentNullException.ThrowIfNull(options);

        var blank = IsBlank(options.SessionId) ? nameof(AcquireOptions.SessionId)
            : IsBlank(options.RunId) ? nameof(AcquireOptions.RunId)
            : IsBlank(options.Source) ? nameof(AcquireOptions.Source)
            : null;
        if (blank is not null)
        {
            throw new ArgumentException($"AcquireOptions.{blank} must not be empty or whitespace when set.", nameof(options));
        }

        if (options.QueueTimeout is { } timeout && !TimeoutRules.IsValid(timeout))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), timeout, "AcquireOptions.QueueTimeout must be zero or more and at most 49.7 days, or Timeout.InfiniteTimeSpan.");
        }
    }

    private static bool IsBlank(string? id) => id is not null && string.IsNullOrWhiteSpace(id);
}
