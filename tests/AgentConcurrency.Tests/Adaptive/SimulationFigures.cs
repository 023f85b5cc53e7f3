namespace AgentConcurrency.Tests.Adaptive;

/// <summary>Figures over a stretch of a simulation's outcomes.</summary>
internal static class SimulationFigures
{
    /// <summary>Runs ended per simulated second over <paramref name="outcomes"/> (timed from the run before the first).</summary>
    public static double Throughput(this IReadOnlyList<SimulatedOutcome> all, Range range)
    {
        var (offset, length) = range.GetOffsetAndLength(all.Count);
        var startedAt = offset == 0 ? 0 : all[offset - 1].EndedAt;
        return length / (all[offset + length - 1].EndedAt - startedAt);
    }

    public static double OverloadedShare(this IReadOnlyList<SimulatedOutcome> all, Range range) =>
        all.Take(range).Average(static outcome => outcome.Overloaded ? 1.0 : 0.0);

    public static (int Least, int Most, double Mean) Limits(this IReadOnlyList<SimulatedOutcome> all, Range range)
    {
        var limits = all.Take(range).Select(static outcome => outcome.Limit).ToList();
        return (limits.Min(), limits.Max(), limits.Average());
    }
}
