using AgentConcurrency.Internal;

namespace AgentConcurrency.Tests.Adaptive;

public sealed class AimdLimitTests
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    [Fact]
    public void It_grows_by_one_after_a_window_of_successes_that_took_the_last_slot()
    {
        var aimd = Create(initialLimit: 4, successesPerIncrease: 3);

        Succeed(aimd, times: 2).Should().BeFalse();
        aimd.Limit.Should().Be(4);

        Succeed(aimd, times: 1).Should().BeTrue();
        aimd.Limit.Should().Be(5);
    }

    [Fact]
    public void Successes_that_left_slots_free_say_nothing_about_a_higher_limit()
    {
        var aimd = Create(initialLimit: 4, successesPerIncrease: 1);

        aimd.OnRunEnded(new RunSample(OneSecond, Overloaded: false, TookLastSlot: false, aimd.Epoch)).Should().BeFalse();

        aimd.Limit.Should().Be(4);
    }

    [Fact]
    public void Only_runs_started_under_the_current_limit_count_towards_the_next_step()
    {
        var aimd = Create(initialLimit: 4, successesPerIncrease: 2);
        var startedUnderFour = aimd.Epoch;
        Succeed(aimd, times: 2);

        aimd.OnRunEnded(new RunSample(OneSecond, Overloaded: false, TookLastSlot: true, startedUnderFour)).Should().BeFalse();
        aimd.OnRunEnded(new RunSample(OneSecond, Overloaded: false, TookLastSlot: true, startedUnderFour)).Should().BeFalse();

        aimd.Limit.Should().Be(5);
    }

    [Theory]
    [InlineData(10, 0.75, 8)]
    [InlineData(6, 0.75, 5)]
    [InlineData(2, 0.75, 1)]
    [InlineData(10, 0.5, 5)]
    [InlineData(10, 0.99, 9)]
    public void An_overload_multiplies_the_limit_by_the_backoff_ratio_rounded_up_and_at_least_one_less(int limit, double ratio, int expected)
    {
        var aimd = Create(initialLimit: limit, backoffRatio: ratio);

        Overload(aimd, aimd.Epoch).Should().BeTrue();

        aimd.Limit.Should().Be(expected);
    }

    [Fact]
    public void Overloads_of_runs_started_before_a_decrease_are_the_same_episode()
    {
        var aimd = Create(initialLimit: 10);
        var startedUnderTen = aimd.Epoch;
        Overload(aimd, startedUnderTen);

        Overload(aimd, startedUnderTen).Should().BeFalse();
        aimd.Limit.Should().Be(8);

        Overload(aimd, aimd.Epoch).Should().BeTrue("a run started under the lower limit is a new episode");
        aimd.Limit.Should().Be(6);
    }

    [Fact]
    public void The_limit_stays_within_its_bounds()
    {
        var aimd = Create(initialLimit: 3, successesPerIncrease: 1, minLimit: 2, maxLimit: 4);

        Succeed(aimd, times: 5);
        aimd.Limit.Should().Be(4);

        for (var i = 0; i < 5; i++)
        {
            Overload(aimd, aimd.Epoch);
        }

        aimd.Limit.Should().Be(2);
    }

    [Theory]
    [InlineData(100, 64)]
    [InlineData(0, 1)]
    public void The_initial_limit_is_brought_within_the_bounds(int initialLimit, int expected) =>
        Create(initialLimit).Limit.Should().Be(expected);

    private static AimdLimit Create(int initialLimit, int successesPerIncrease = 100, double backoffRatio = 0.75, int minLimit = 1, int maxLimit = 64) =>
        (AimdLimit)AdaptiveLimit.Create(
            AdaptiveLimitSettings.From(new AdaptiveLimitOptions
            {
                MinLimit = minLimit, MaxLimit = maxLimit, SuccessesPerIncrease = successesPerIncrease, BackoffRatio = backoffRatio,
            }),
            initialLimit);

    /// <summary>Ends <paramref name="times"/> successful runs that took the last slot under the current limit; returns whether the last changed it.</summary>
    private static bool Succeed(AdaptiveLimit limit, int times)
    {
        var changed = false;
        for (var i = 0; i < times; i++)
        {
            changed = limit.OnRunEnded(new RunSample(OneSecond, Overloaded: false, TookLastSlot: true, limit.Epoch));
        }

        return changed;
    }

    private static bool Overload(AdaptiveLimit limit, long startedInEpoch) =>
        limit.OnRunEnded(new RunSample(OneSecond, Overloaded: true, TookLastSlot: true, startedInEpoch));
}
