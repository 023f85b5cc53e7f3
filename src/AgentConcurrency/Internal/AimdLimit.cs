namespace AgentConcurrency.Internal;

/// <summary>
/// Additive increase, multiplicative decrease (<see cref="AdaptiveAlgorithm.Aimd"/>): one more slot after a window of
/// successes of runs started under the current limit that each took the last free slot, and the shared backoff on overload.
/// </summary>
internal sealed class AimdLimit(AdaptiveLimitSettings settings, int initialLimit) : AdaptiveLimit(settings, initialLimit)
{
    private long _windowEpoch;
    private int _successes;

    protected override bool OnSuccess(in RunSample sample)
    {
        // A limit is judged only by runs started under it, and only by those that found it full: a run that left slots
        // free says nothing about whether one more would help.
        if (sample.Epoch != Epoch || !sample.TookLastSlot || Limit == Settings.MaxLimit)
        {
            return false;
        }

        if (_windowEpoch != Epoch)
        {
            _windowEpoch = Epoch;
            _successes = 0;
        }

        return ++_successes >= Settings.SuccessesPerIncrease && Increase();
    }
}
