namespace AgentConcurrency.Tests.Adaptive;

/// <summary>One run in a <see cref="SimulatedHost"/>: the slot it holds, when it started, and the work it still has.</summary>
internal sealed class SimulatedRun(AgentSlot slot, double startedAt, double work)
{
    public AgentSlot Slot { get; } = slot;

    public double StartedAt { get; } = startedAt;

    /// <summary>Seconds of full-speed work left.</summary>
    public double WorkLeft { get; set; } = work;
}
