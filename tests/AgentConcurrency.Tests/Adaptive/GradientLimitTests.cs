using AgentConcurrency.Internal;

namespace AgentConcurrency.Tests.Adaptive;

public sealed class GradientLimitTests
{
    [Fact]
    public void A_round_as_fast_as_the_uncrowded_time_grows_the_limit_by_one()
    {
        var gradient = Create(initialLimit: 4);

        EndRound(gradient, seconds: 10).Should().BeTrue();

        gradient.Limit.Should().Be(5);
        gradient.UncrowdedSeconds.Should().Be(10);
    }

    [Fact]
    public void A_round_is_as_many_runs_as_the_limit_and_at_least_the_minimum_round_size()
    {
        var gradient = Create(initialLimit: 4, minRoundSize: 6);

        for (var run = 1; run < 6; run++)
        {
            End(gradient, seconds: 10).Should().BeFalse($"run {run} of 6 does not end the round");
        }

        End(gradient, seconds: 10).Should().BeTrue();
        gradient.Limit.Should().Be(5);
    }

    [Fact]
    public void A_round_that_left_slots_free_does_not_grow_the_limit()
    {
        var gradient = Create(initialLimit: 4);

        EndRound(gradient, seconds: 10, tookLastSlot: false).Should().BeFalse();

        gradient.Limit.Should().Be(4);
    }

    [Fact]
    public void A_round_slower_than_the_tolerance_shrinks_the_limit_by_one()
    {
        var gradient = Create(initialLimit: 4);
        EndRound(gradient, seconds: 10);

        EndRound(gradient, seconds: 16).Should().BeTrue();

        gradient.Limit.Should().Be(4);
        gradient.UncrowdedSeconds.Should().Be(10, "a crowded round does not teach the uncrowded time");
    }

    [Fact]
    public void A_slower_round_within_tolerance_still_grows_the_limit_and_moves_the_uncrowded_time_a_little()
    {
        var gradient = Create(initialLimit: 4);
        EndRound(gradient, seconds: 10);

        EndRound(gradient, seconds: 14).Should().BeTrue();

        gradient.Limit.Should().Be(6);
        gradient.UncrowdedSeconds.Should().BeApproximately(10.4, 1e-9);
    }

    [Fact]
    public void A_slow_round_that_left_slots_free_does_not_shrink_the_limit()
    {
        var gradient = Create(initialLimit: 4);
        EndRound(gradient, seconds: 10);

        EndRound(gradient, seconds: 30, tookLastSlot: false).Should().BeFalse("something other than its own crowd slowed it");

        gradient.Limit.Should().Be(5);
        gradient.UncrowdedSeconds.Should().Be(10);
    }

    [Fact]
    public void Runs_started_under_another_limit_are_not_part_of_the_round()
    {
        var gradient = Create(initialLimit: 4);
        var startedUnderFour = gradient.Epoch;
        EndRound(gradient, seconds: 10);

        for (var run = 0; run < 20; run++)
        {
            gradient.OnRunEnded(new RunSample(TimeSpan.FromSeconds(100), Overloaded: false, TookLastSlot: true, startedUnderFour)).Should().BeFalse();
        }

        gradient.Limit.Should().Be(5);
    }

    [Fact]
    public void After_a_failed_probe_it_holds_twice_as_many_rounds_before_probing_again()
    {
        var gradient = Create(initialLimit: 4);
        EndRound(gradient, seconds: 10);                 // 4 -> 5
        EndRound(gradient, seconds: 20).Should().BeTrue(); // 5 is slow: back to 4, a failed probe

        EndRound(gradient, seconds: 10).Should().BeFalse("hold 1 of 4");
        EndRound(gradient, seconds: 10).Should().BeFalse("hold 2 of 4");
        EndRound(gradient, seconds: 10).Should().BeFalse("hold 3 of 4");
        EndRound(gradient, seconds: 10).Should().BeFalse("hold 4 of 4");
        EndRound(gradient, seconds: 10).Should().BeTrue("the hold is over");

        gradient.Limit.Should().Be(5);
    }

    [Fact]
    public void A_probe_that_holds_up_brings_the_hold_back_to_its_least()
    {
        var gradient = Create(initialLimit: 4);
        EndRound(gradient, seconds: 10);                 // 4 -> 5
        EndRound(gradient, seconds: 20);                 // failed probe: 5 -> 4, hold 4
        for (var round = 0; round < 5; round++)
        {
            EndRound(gradient, seconds: 10);             // 4 rounds held, then 4 -> 5
        }

        EndRound(gradient, seconds: 10).Should().BeTrue("the probe at 5 held up: 5 -> 6");
        EndRound(gradient, seconds: 20).Should().BeTrue("6 is slow: back to 5");

        EndRound(gradient, seconds: 10).Should().BeFalse("hold 1 of 4: the probe before this one held up");
        for (var round = 0; round < 3; round++)
        {
            EndRound(gradient, seconds: 10);
        }

        EndRound(gradient, seconds: 10).Should().BeTrue();
        gradient.Limit.Should().Be(6);
    }

    [Fact]
    public void At_the_floor_a_slow_round_is_taken_as_the_new_uncrowded_time()
    {
        var gradient = Create(initialLimit: 1, minRoundSize: 1);
        EndRound(gradient, seconds: 10);                 // 1 -> 2
        EndRound(gradient, seconds: 30);                 // 2 -> 1
        gradient.Limit.Should().Be(1);

        EndRound(gradient, seconds: 30).Should().BeFalse("the floor cannot go lower");

        gradient.UncrowdedSeconds.Should().Be(30, "the host got slower as a whole");
    }

    [Fact]
    public void An_overload_backs_off_at_once_as_in_aimd()
    {
        var gradient = Create(initialLimit: 8);

        gradient.OnRunEnded(new RunSample(TimeSpan.FromSeconds(1), Overloaded: true, TookLastSlot: true, gradient.Epoch)).Should().BeTrue();

        gradient.Limit.Should().Be(6);
    }

    private static GradientLimit Create(int initialLimit, int minRoundSize = 4) =>
        (GradientLimit)AdaptiveLimit.Create(
            AdaptiveLimitSettings.From(new AdaptiveLimitOptions { Algorithm = AdaptiveAlgorithm.Gradient, MinRoundSize = minRoundSize }),
            initialLimit);

    /// <summary>Ends a whole round of runs started under the current limit, each taking <paramref name="seconds"/>; returns whether the limit moved.</summary>
    private static bool EndRound(GradientLimit gradient, double seconds, bool tookLastSlot = true)
    {
        var epoch = gradient.Epoch;
        var size = Math.Max(gradient.Limit, gradient.Settings.MinRoundSize);
        var changed = false;
        for (var run = 0; run < size; run++)
        {
            changed = gradient.OnRunEnded(new RunSample(TimeSpan.FromSeconds(seconds), Overloaded: false, tookLastSlot, epoch));
        }

        return changed;
    }

    private static bool End(GradientLimit gradient, double seconds) =>
        gradient.OnRunEnded(new RunSample(TimeSpan.FromSeconds(seconds), Overloaded: false, TookLastSlot: true, gradient.Epoch));
}
