using System.Globalization;

namespace AgentConcurrency.Internal;

/// <summary>An immutable copy of one agent's <see cref="AdaptiveLimitOptions"/>; equal copies keep what the agent learned across reloads.</summary>
internal sealed record AdaptiveLimitSettings(
    int MinLimit,
    int MaxLimit,
    int? InitialLimit,
    AdaptiveAlgorithm Algorithm,
    double BackoffRatio,
    int SuccessesPerIncrease,
    double Tolerance,
    int MinRoundSize)
{
    public static AdaptiveLimitSettings From(AdaptiveLimitOptions options) => new(
        options.MinLimit,
        options.MaxLimit,
        options.InitialLimit,
        options.Algorithm,
        options.BackoffRatio,
        options.SuccessesPerIncrease,
        options.Tolerance,
        options.MinRoundSize);

    /// <summary><paramref name="limit"/> brought within [<see cref="MinLimit"/>, <see cref="MaxLimit"/>].</summary>
    public int Clamp(int limit) => Math.Clamp(limit, MinLimit, MaxLimit);

    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Algorithm} {MinLimit}..{MaxLimit} from {InitialLimit?.ToString(CultureInfo.InvariantCulture) ?? "static"}, backoff {BackoffRatio}, " +
        $"successes {SuccessesPerIncrease}, tolerance {Tolerance}, round {MinRoundSize}");
}
