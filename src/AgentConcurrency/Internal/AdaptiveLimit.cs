namespace AgentConcurrency.Internal;

/// <summary>
/// One agent's adaptive limit: the algorithm's state and the limit it chose. Fed under the limiter's lock with each
/// ended run of the agent, so it needs no synchronisation of its own, and it never calls out.
/// </summary>
/// <remarks>
/// Both algorithms share the response to overload: multiply by the backoff ratio, once per episode. Runs started before
/// a decrease ran under the higher limit, so their overloads are the same episode and are ignored; without that, one
/// crowded moment would report once per held slot and drive the limit to its floor.
/// </remarks>
internal abstract class AdaptiveLimit
{
    protected AdaptiveLimit(AdaptiveLimitSettings settings, int initialLimit)
    {
        Settings = settings;
        Limit = settings.Clamp(initialLimit);
    }

    public AdaptiveLimitSettings Settings { get; }

    /// <summary>The limit in force, always within the settings' bounds.</summary>
    public int Limit { get; private set; }

    /// <summary>Counts the limit's changes; a run notes it when it starts, so its sample says which limit it ran under.</summary>
    public long Epoch { get; private set; }

    /// <summary>The <see cref="Epoch"/> the last decrease started; overloads of runs started before it are ignored.</summary>
    protected long LastDecreaseEpoch { get; private set; } = -1;

    /// <summary>The algorithm <paramref name="settings"/> name, starting at <paramref name="initialLimit"/> brought within bounds.</summary>
    public static AdaptiveLimit Create(AdaptiveLimitSettings settings, int initialLimit) => settings.Algorithm switch
    {
        AdaptiveAlgorithm.Gradient => new GradientLimit(settings, initialLimit),
        _ => new AimdLimit(settings, initialLimit),
    };

    /// <summary>Learns from one ended run; returns whether <see cref="Limit"/> changed.</summary>
    public bool OnRunEnded(in RunSample sample)
    {
        if (!sample.Overloaded)
        {
            return OnSuccess(sample);
        }

        if (sample.Epoch < LastDecreaseEpoch)
        {
            return false;
        }

        // Rounded up, so a small limit is not halved by a ratio meant for gentle steps; always at least one less.
        var backedOff = Math.Min(Limit - 1, (int)Math.Ceiling(Limit * Settings.BackoffRatio));
        return Decrease(backedOff);
    }

    /// <summary>Learns from a run that did not report overload; returns whether <see cref="Limit"/> changed.</summary>
    protected abstract bool OnSuccess(in RunSample sample);

    /// <summary>Raises the limit by one, unless it stands at the maximum.</summary>
    protected bool Increase() => Limit < Settings.MaxLimit && MoveTo(Limit + 1);

    /// <summary>Lowers the limit to <paramref name="limit"/>, no lower than the minimum, and starts a new overload episode.</summary>
    protected bool Decrease(int limit)
    {
        if (!MoveTo(limit))
        {
            return false;
        }

        LastDecreaseEpoch = Epoch;
        return true;
    }

    private bool MoveTo(int limit)
    {
        limit = Settings.Clamp(limit);
        if (limit == Limit)
        {
            return false;
        }

        Limit = limit;
        Epoch++;
        return true;
    }
}
