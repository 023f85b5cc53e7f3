using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Adaptive;

/// <summary>
/// Drives one agent of a real limiter with many closed-loop callers against a <see cref="SimulatedHost"/>, on a
/// <see cref="FakeTimeProvider"/>: a discrete-event simulation, single-threaded and seeded, so every run of it gives the
/// same figures in a fraction of a second. Callers take slots with <c>TryAcquire</c> in turn (a caller that cannot get one
/// waits its turn in the simulation's own line), so no continuation ever runs on another thread.
/// </summary>
internal sealed record AdaptiveSimulation
{
    public const string AgentId = "sim";

    /// <summary>Gets how many callers keep asking for slots; each asks again as soon as its run ends.</summary>
    public int Callers { get; init; } = 30;

    /// <summary>Gets a run's mean work in seconds at full speed; each run's is drawn evenly from half to one and a half times it.</summary>
    public double MeanWorkSeconds { get; init; } = 10;

    /// <summary>Gets how long a run may take before it reports overload, as a timed-out call would.</summary>
    public double DeadlineSeconds { get; init; } = 25;

    /// <summary>Gets the host's loss of speed per run beyond capacity (<see cref="SimulatedHost"/>).</summary>
    public double Thrashing { get; init; } = 0.5;

    public int Seed { get; init; } = 7;

    /// <summary>Runs the phases in turn against an agent whose <see cref="AgentDef.MaxConcurrency"/> is <paramref name="declaredLimit"/>.</summary>
    public IReadOnlyList<SimulatedOutcome> Run(int declaredLimit, AdaptiveLimitOptions? adaptive, params SimulationPhase[] phases)
    {
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        var options = new AgentConcurrencyOptions { MaxParallelRuns = null, MaxParallelSessions = null };
        if (adaptive is not null)
        {
            options.AdaptiveLimits[AgentId] = adaptive;
        }

        using var limiter = new AgentConcurrencyLimiter(options, clock);
        var agent = new AgentDef(AgentId, declaredLimit);
        var host = new SimulatedHost(phases[0].Capacity, Thrashing);
        var random = new Random(Seed);
        var outcomes = new List<SimulatedOutcome>();
        var now = 0.0;
        var waitingCallers = Callers;
        foreach (var phase in phases)
        {
            host.Capacity = phase.Capacity;
            for (var ended = 0; ended < phase.Runs; ended++)
            {
                while (waitingCallers > 0 && limiter.TryAcquire(agent, null, out var slot))
                {
                    waitingCallers--;
                    host.Start(new SimulatedRun(slot, now, MeanWorkSeconds * (0.5 + random.NextDouble())));
                }

                var seconds = host.SecondsToNextFinish();
                var run = host.Advance(seconds);
                now += seconds;
                clock.SetUtcNow(start + TimeSpan.FromSeconds(now));

                var held = now - run.StartedAt;
                var overloaded = held > DeadlineSeconds;
                if (overloaded)
                {
                    run.Slot.ReportOverload();
                }

                run.Slot.Dispose();
                waitingCallers++;
                outcomes.Add(new SimulatedOutcome(now, held, overloaded, limiter.GetStatus().Agent(AgentId).Limit, phase.Capacity));
            }
        }

        return outcomes;
    }
}
