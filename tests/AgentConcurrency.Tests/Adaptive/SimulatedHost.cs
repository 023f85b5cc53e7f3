namespace AgentConcurrency.Tests.Adaptive;

/// <summary>
/// A fake resource shared by the runs of one agent, such as a GPU or a model API: it serves up to <see cref="Capacity"/>
/// runs at full speed and thrashes beyond it. Its runs share it evenly (processor sharing), and past capacity the whole
/// resource also loses speed with every extra run, so that crowding it costs throughput, not only latency: the reason
/// the host in the field report timed out at 8 agents.
/// </summary>
/// <param name="capacity">How many runs it serves at full speed.</param>
/// <param name="thrashing">How much of its speed the resource loses with each run beyond capacity: 0.5 halves it at two over.</param>
internal sealed class SimulatedHost(int capacity, double thrashing)
{
    private readonly List<SimulatedRun> _runs = [];

    public int Capacity { get; set; } = capacity;

    public int Running => _runs.Count;

    /// <summary>How fast each run progresses with <paramref name="running"/> runs sharing the resource: 1 is full speed.</summary>
    public double SpeedOfEach(int running) =>
        running <= Capacity ? 1 : (double)Capacity / running / (1 + (thrashing * (running - Capacity)));

    public void Start(SimulatedRun run) => _runs.Add(run);

    /// <summary>Seconds until the next run finishes at the present speed; infinite when nothing runs.</summary>
    public double SecondsToNextFinish()
    {
        if (_runs.Count == 0)
        {
            return double.PositiveInfinity;
        }

        var least = _runs.Min(static run => run.WorkLeft);
        return least / SpeedOfEach(_runs.Count);
    }

    /// <summary>Lets <paramref name="seconds"/> pass and returns the run that finished in them (the one with least work left).</summary>
    public SimulatedRun Advance(double seconds)
    {
        var done = seconds * SpeedOfEach(_runs.Count);
        var finished = _runs[0];
        foreach (var run in _runs)
        {
            run.WorkLeft -= done;
            if (run.WorkLeft < finished.WorkLeft)
            {
                finished = run;
            }
        }

        _runs.Remove(finished);
        return finished;
    }
}
