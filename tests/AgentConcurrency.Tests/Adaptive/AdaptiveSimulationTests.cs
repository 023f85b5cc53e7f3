using Xunit.Abstractions;

namespace AgentConcurrency.Tests.Adaptive;

/// <summary>
/// Issue 7's targets on a simulated host (<see cref="AdaptiveSimulation"/>): capacity 5 for 3,000 runs, then 10 for
/// 3,000 more, the agent starting at limit 10, each algorithm with its default knobs, on three seeds.
/// </summary>
public sealed class AdaptiveSimulationTests(ITestOutputHelper output)
{
    private const int RunsPerPhase = 3000;

    // The second half of the first phase is its steady state; the last 500 runs are what the settling target names.
    private static readonly Range SteadyAtFive = (RunsPerPhase / 2)..RunsPerPhase;
    private static readonly Range LastRunsAtFive = (RunsPerPhase - 500)..RunsPerPhase;
    private static readonly Range LastRunsAtTen = ^500..;

    public static TheoryData<AdaptiveAlgorithm, int> AlgorithmsAndSeeds => new()
    {
        { AdaptiveAlgorithm.Aimd, 1 }, { AdaptiveAlgorithm.Aimd, 2 }, { AdaptiveAlgorithm.Aimd, 3 },
        { AdaptiveAlgorithm.Gradient, 1 }, { AdaptiveAlgorithm.Gradient, 2 }, { AdaptiveAlgorithm.Gradient, 3 },
    };

    [Theory]
    [MemberData(nameof(AlgorithmsAndSeeds))]
    public void Starting_at_ten_on_a_host_of_five_the_limit_settles_within_four_to_six_with_few_overloads(AdaptiveAlgorithm algorithm, int seed)
    {
        var outcomes = RunAdaptive(algorithm, seed);

        var (least, most, _) = outcomes.Limits(LastRunsAtFive);
        least.Should().BeGreaterThanOrEqualTo(4);
        most.Should().BeLessThanOrEqualTo(6);
        outcomes.OverloadedShare(LastRunsAtFive).Should().BeLessThan(0.05);
    }

    [Theory]
    [MemberData(nameof(AlgorithmsAndSeeds))]
    public void When_the_host_grows_to_ten_the_limit_climbs_to_at_least_eight(AdaptiveAlgorithm algorithm, int seed)
    {
        var outcomes = RunAdaptive(algorithm, seed);

        outcomes.Limits(LastRunsAtTen).Least.Should().BeGreaterThanOrEqualTo(8);
    }

    [Theory]
    [MemberData(nameof(AlgorithmsAndSeeds))]
    public void Throughput_is_at_least_nine_tenths_of_the_best_fixed_limit_with_a_tenth_of_the_overloads_of_a_fixed_eight(
        AdaptiveAlgorithm algorithm, int seed)
    {
        var simulation = new AdaptiveSimulation { Seed = seed };
        var fixedLimits = Enumerable.Range(1, 12)
            .Select(limit => (Limit: limit, Outcomes: simulation.Run(limit, adaptive: null, new SimulationPhase(5, RunsPerPhase))))
            .ToList();
        var best = fixedLimits.MaxBy(run => run.Outcomes.Throughput(SteadyAtFive));
        var fixedEight = fixedLimits.Single(run => run.Limit == 8).Outcomes;
        var adaptive = RunAdaptive(algorithm, seed);

        var throughputRatio = adaptive.Throughput(SteadyAtFive) / best.Outcomes.Throughput(SteadyAtFive);
        output.WriteLine(
            $"{algorithm}, seed {seed}: {throughputRatio:P1} of the best fixed limit ({best.Limit}); overloaded " +
            $"{adaptive.OverloadedShare(SteadyAtFive):P1} against {fixedEight.OverloadedShare(SteadyAtFive):P1} at a fixed 8; " +
            $"limits {adaptive.Limits(LastRunsAtFive)} at capacity 5 and {adaptive.Limits(LastRunsAtTen)} at 10.");

        best.Limit.Should().Be(5, "the host serves five runs at full speed and thrashes beyond");
        throughputRatio.Should().BeGreaterThanOrEqualTo(0.9);
        adaptive.OverloadedShare(SteadyAtFive).Should().BeLessThan(fixedEight.OverloadedShare(SteadyAtFive) / 10);
    }

    /// <summary>
    /// Writes each algorithm's limit over time (seed 1) as CSV to the path in <c>AGENT_CONCURRENCY_SIMULATION_CSV</c>, for
    /// <c>docs/plot-adaptive-limit.py</c> to draw the README's chart; with the variable unset it only checks the series.
    /// </summary>
    [Fact]
    public void The_limit_over_time_can_be_written_for_the_readme_chart()
    {
        var series = new[] { AdaptiveAlgorithm.Aimd, AdaptiveAlgorithm.Gradient }
            .SelectMany(algorithm => RunAdaptive(algorithm, seed: 1).Select(outcome => (algorithm, outcome)))
            .ToList();

        series.Should().HaveCount(4 * RunsPerPhase);
        if (Environment.GetEnvironmentVariable("AGENT_CONCURRENCY_SIMULATION_CSV") is { Length: > 0 } path)
        {
            File.WriteAllLines(path, series.Select(static point => string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"{point.algorithm},{point.outcome.EndedAt:F1},{point.outcome.Limit},{point.outcome.Capacity},{(point.outcome.Overloaded ? 1 : 0)}")).Prepend("algorithm,seconds,limit,capacity,overloaded"));
        }
    }

    private static IReadOnlyList<SimulatedOutcome> RunAdaptive(AdaptiveAlgorithm algorithm, int seed) =>
        new AdaptiveSimulation { Seed = seed }.Run(
            declaredLimit: 10,
            new AdaptiveLimitOptions { Algorithm = algorithm },
            new SimulationPhase(5, RunsPerPhase),
            new SimulationPhase(10, RunsPerPhase));
}
