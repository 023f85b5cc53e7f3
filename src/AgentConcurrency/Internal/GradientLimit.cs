namespace AgentConcurrency.Internal;

/// <summary>
/// The gradient algorithm (<see cref="AdaptiveAlgorithm.Gradient"/>): compares each round's mean run time (short term)
/// with the uncrowded run time (long term), moving at most one step per round, plus the shared backoff on overload.
/// </summary>
/// <remarks>
/// <para>
/// A round is the runs started under one limit. Judging a limit only by its own runs is what keeps the comparison honest:
/// runs started under a higher limit end slow for a while after a decrease and would otherwise push it further down.
/// </para>
/// <para>
/// The uncrowded time is an average of the rounds within tolerance only, leaning towards the faster ones: crowded rounds
/// would pull a plain long-term average up while the limit oscillates above capacity (and the limit with it), and the
/// fastest round alone sinks with every lucky round until ordinary rounds look slow. At the floor a slow round is taken
/// as the new uncrowded time, so a host that got slower as a whole (another model, a smaller box) is relearned.
/// </para>
/// <para>
/// After a decrease the limit holds for a few rounds before it probes one step higher again, so that a limit just above
/// capacity is visited rarely: each visit costs slow runs.
/// </para>
/// </remarks>
internal sealed class GradientLimit(AdaptiveLimitSettings settings, int initialLimit) : AdaptiveLimit(settings, initialLimit)
{
    // How far a round within tolerance moves the uncrowded time towards itself: the average of noisy rounds, leaning
    // towards the fast ones. The minimum instead would sink with every lucky round until ordinary rounds looked slow.
    private const double FasterRoundWeight = 0.5;
    private const double SlowerRoundWeight = 0.1;

    // Rounds to hold after a decrease before probing higher again: doubled by each probe that failed in a row, so a
    // limit just above capacity is visited less and less often, and back to the least by a probe that held up.
    private const int LeastHoldRounds = 2;
    private const int MostHoldRounds = 32;

    private long _roundEpoch = -1;
    private int _roundRuns;
    private int _roundRunsTookLastSlot;
    private double _roundSeconds;
    private double _uncrowdedSeconds;
    private int _holdRounds;
    private int _nextHoldRounds = LeastHoldRounds;
    private long _raisedEpoch = -1;

    /// <summary>The uncrowded run time learned so far, in seconds; 0 before the first round.</summary>
    public double UncrowdedSeconds => _uncrowdedSeconds;

    protected override bool OnSuccess(in RunSample sample)
    {
        if (sample.Epoch != Epoch)
        {
            return false;
        }

        if (_roundEpoch != Epoch)
        {
            if (Epoch == LastDecreaseEpoch)
            {
                // A decrease straight after a raise is a failed probe.
                if (Epoch == _raisedEpoch + 1)
                {
                    _nextHoldRounds = Math.Min(_nextHoldRounds * 2, MostHoldRounds);
                }

                _holdRounds = _nextHoldRounds;
            }

            StartRound();
        }

        _roundRuns++;
        _roundSeconds += sample.Duration.TotalSeconds;
        _roundRunsTookLastSlot += sample.TookLastSlot ? 1 : 0;
        if (_roundRuns < Math.Max(Limit, Settings.MinRoundSize))
        {
            return false;
        }

        var roundSeconds = _roundSeconds / _roundRuns;
        var inUse = _roundRunsTookLastSlot * 2 >= _roundRuns;
        StartRound();
        return Judge(roundSeconds, inUse);
    }

    private bool Judge(double roundSeconds, bool inUse)
    {
        if (_uncrowdedSeconds == 0)
        {
            _uncrowdedSeconds = roundSeconds;
        }

        // Slow rounds of an agent that left slots free were slowed by something else than its own crowd: no step.
        if (roundSeconds > _uncrowdedSeconds * Settings.Tolerance && inUse)
        {
            // At the floor the host is as uncrowded as it can be made: what it shows now is its uncrowded time.
            if (Limit == Settings.MinLimit)
            {
                _uncrowdedSeconds = roundSeconds;
            }

            return Decrease(Limit - 1);
        }

        // Only rounds within tolerance teach the uncrowded time, faster ones more than slower ones, so it follows the
        // host's own pace without being pulled up by crowded rounds or down to the luckiest round.
        if (roundSeconds > _uncrowdedSeconds * Settings.Tolerance)
        {
            return false;
        }

        var weight = roundSeconds < _uncrowdedSeconds ? FasterRoundWeight : SlowerRoundWeight;
        _uncrowdedSeconds += (roundSeconds - _uncrowdedSeconds) * weight;
        if (Epoch == _raisedEpoch)
        {
            _nextHoldRounds = LeastHoldRounds;
        }

        if (_holdRounds > 0)
        {
            _holdRounds--;
            return false;
        }

        if (!inUse || !Increase())
        {
            return false;
        }

        _raisedEpoch = Epoch;
        return true;
    }

    private void StartRound()
    {
        _roundEpoch = Epoch;
        _roundRuns = 0;
        _roundRunsTookLastSlot = 0;
        _roundSeconds = 0;
    }
}
