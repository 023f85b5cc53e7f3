using System.Diagnostics.Metrics;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

/// <summary>
/// Issue 5, part 1: random sequences of operations run against the limiter and against <see cref="Model"/>, a small
/// sequential statement of the contract, compared after every step: what each call returned, what every request's
/// outcome is, who holds what and who waits in what order. CsCheck shrinks a failing sequence to a minimal one.
/// </summary>
/// <remarks>
/// The model covers agents, sessions, run ids (starting, joining, conflicting), sources, priorities, timeouts,
/// cancellation, releases (twice included), limit changes and session releases.
/// </remarks>
public class ModelBasedTests
{
    private const int MaxRuns = 3;
    private const int MaxSessions = 2;
    private const int PerSource = 2;
    private static readonly int[] DeclaredLimits = [1, 2, 3];

    /// <summary>
    /// Sequences of every kind of operation, where a session, run id or source is each set three times in four: requests
    /// with none of them (plain requests, which the limiter grants and releases on a short path of their own) are rare.
    /// </summary>
    [Fact]
    public void RandomOperationSequences_BehaveAsTheSequentialModel() =>
        AnyOp(absentOneIn: 4).Array[1, 40].Sample(static operations => Run(operations), iter: 2_000, threads: 1);

    /// <summary>
    /// The same with each id or source absent three times in four, so that about two requests in five are plain: the
    /// short path meets the general one (waiters, sessions, limit changes) in every order.
    /// </summary>
    [Fact]
    public void RandomMostlyPlainSequences_BehaveAsTheSequentialModel() =>
        AnyOp(absentOneIn: 4, absentTimes: 3).Array[1, 40].Sample(static operations => Run(operations), iter: 1_000, threads: 1);

    /// <summary>
    /// The mostly plain mix while someone listens to the slot metrics, which every run then answers to, on the short path
    /// as on the general one: after every step the active-slots metric adds up to the runs the status shows, and every run
    /// that ended was timed.
    /// </summary>
    [Fact]
    public void RandomMostlyPlainSequences_WithTheSlotMetricsListenedTo_BehaveAsTheModelAndMeasureEveryRun() =>
        AnyOp(absentOneIn: 4, absentTimes: 3).Array[1, 40].Sample(static operations => Run(operations, measured: true), iter: 500, threads: 1);

    /// <summary>Operations of every kind; a session, run id or source is absent <paramref name="absentTimes"/> times in <paramref name="absentOneIn"/>.</summary>
    private static Gen<Op> AnyOp(int absentOneIn, int absentTimes = 1)
    {
        var smallOrNone = Gen.Int[0, absentOneIn - 1].SelectMany(roll => roll < absentTimes ? Gen.Const((int?)null) : Gen.Int[0, 2].Select(static i => (int?)i));
        return Gen.Frequency(
            (5, Gen.Select(Gen.Int[0, 2], smallOrNone, smallOrNone, smallOrNone, Gen.Int[0, 2], Gen.Int[0, 4], static (agent, session, run, source, priority, timeout) =>
                (Op)new Acquire(agent, session, run, source, priority, timeout == 4 ? null : timeout))),
            (2, Gen.Select(Gen.Int[0, 2], smallOrNone, smallOrNone, smallOrNone, static (agent, session, run, source) => (Op)new TryAcquire(agent, session, run, source))),
            (5, Gen.Int[0, 20].Select(static slot => (Op)new Release(slot))),
            (2, Gen.Int[0, 20].Select(static request => (Op)new Cancel(request))),
            (2, Gen.Int[1, 3].Select(static seconds => (Op)new Advance(seconds))),
            (1, Gen.Select(Gen.Int[0, 2], Gen.Int[1, 3], static (agent, limit) => (Op)new SetLimit(agent, limit))),
            (1, Gen.Int[0, 2].Select(static session => (Op)new ReleaseSession(session))));
    }

    private static void Run(Op[] operations, bool measured = false)
    {
        var time = new FakeTimeProvider();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = measured ? services.GetRequiredService<IMeterFactory>() : null;
        using var limiter = new AgentConcurrencyLimiter(Options([null, null, null]), time, loggerFactory: null, meterFactory);
        using var slotMetrics = measured ? new SlotMetrics(meterFactory!) : null;
        var model = new Model();
        var requests = new List<Request>();
        var slots = new List<(AgentSlot Slot, Model.Run Run)>();

        for (var step = 0; step < operations.Length; step++)
        {
            var operation = operations[step];
            var context = $"step {step} ({operation})";
            switch (operation)
            {
                case Acquire acquire:
                    var options = ToOptions(acquire.Session, acquire.Run, acquire.Source, acquire.Priority, acquire.TimeoutSeconds);
                    if (model.Conflicts(acquire.Agent, acquire.Session, acquire.Run))
                    {
                        limiter.Invoking(l => l.AcquireAsync(Agent(acquire.Agent), options)).Should().Throw<ArgumentException>(context).WithParameterName("options");
                        break;
                    }

                    var cancellation = new CancellationTokenSource();
                    var pending = limiter.AcquireAsync(Agent(acquire.Agent), options, cancellation.Token);
                    var expected = model.Acquire(acquire.Agent, acquire.Session, acquire.Run, acquire.Source, acquire.Priority, acquire.TimeoutSeconds);
                    requests.Add(new Request(pending, cancellation, expected));
                    break;
                case TryAcquire tryAcquire:
                    var tryOptions = ToOptions(tryAcquire.Session, tryAcquire.Run, tryAcquire.Source, 0, null);
                    if (model.Conflicts(tryAcquire.Agent, tryAcquire.Session, tryAcquire.Run))
                    {
                        limiter.Invoking(l => l.TryAcquire(Agent(tryAcquire.Agent), tryOptions, out _)).Should().Throw<ArgumentException>(context).WithParameterName("options");
                        break;
                    }

                    var acquired = limiter.TryAcquire(Agent(tryAcquire.Agent), tryOptions, out var slot);
                    var run = model.TryAcquire(tryAcquire.Agent, tryAcquire.Session, tryAcquire.Run, tryAcquire.Source);
                    acquired.Should().Be(run is not null, context);
                    if (run is not null)
                    {
                        slots.Add((slot, run));
                    }

                    break;
                case Release release when slots.Count > 0:
                    var (held, heldRun) = slots[release.Slot % slots.Count];
                    held.Dispose();
                    model.Release(heldRun);
                    break;
                case Cancel cancel when requests.Count > 0:
                    var request = requests[cancel.Request % requests.Count];
                    request.Cancellation.Cancel();
                    model.Cancel(request.Expected);
                    break;
                case Advance advance:
                    time.Advance(TimeSpan.FromSeconds(advance.Seconds));
                    model.Advance(advance.Seconds);
                    break;
                case SetLimit setLimit:
                    model.Overrides[setLimit.Agent] = setLimit.Limit;
                    limiter.UpdateOptions(Options(model.Overrides));
                    model.Scan();
                    break;
                case ReleaseSession releaseSession:
                    limiter.ReleaseSessionSlot(SessionId(releaseSession.Session)!);
                    model.ReleaseSession(releaseSession.Session);
                    break;
            }

            CompareOutcomes(requests, slots, context);
            var status = limiter.GetStatus();
            CompareStatus(status, model, context);
            slotMetrics?.ShouldMatch(status, context);
        }

        foreach (var request in requests)
        {
            request.Cancellation.Dispose();
        }
    }

    /// <summary>Every request's task shows the outcome the model decided; a new grant's slot joins those that can be released.</summary>
    private static void CompareOutcomes(List<Request> requests, List<(AgentSlot Slot, Model.Run Run)> slots, string context)
    {
        foreach (var request in requests)
        {
            var task = request.TakeOutcome();
            if (request.Expected.Outcome == Outcome.Waiting)
            {
                (task is null).Should().BeTrue($"{context}: request {request.Expected.Number} should still wait, is {task?.Status}");
                continue;
            }

            task.Should().NotBeNull($"{context}: request {request.Expected.Number} should have ended ({request.Expected.Outcome}), is still waiting");
            switch (request.Expected.Outcome)
            {
                case Outcome.Granted:
                    task.IsCompletedSuccessfully.Should().BeTrue($"{context}: request {request.Expected.Number} should be granted, is {task.Status}");
                    task.Result.IsHeld.Should().Be(request.Expected.Run!.Active, $"{context}: request {request.Expected.Number}'s slot");
                    if (!request.SlotTaken)
                    {
                        request.SlotTaken = true;
                        slots.Add((task.Result, request.Expected.Run));
                    }

                    break;
                case Outcome.Canceled:
                    task.IsCanceled.Should().BeTrue($"{context}: request {request.Expected.Number} should be cancelled, is {task.Status}");
                    break;
                case Outcome.Conflict:
                    task.IsFaulted.Should().BeTrue($"{context}: request {request.Expected.Number} should have failed, is {task.Status}");
                    task.Exception!.InnerException.Should().BeOfType<ArgumentException>(context);
                    break;
                default:
                    task.IsFaulted.Should().BeTrue($"{context}: request {request.Expected.Number} should have failed, is {task.Status}");
                    task.Exception!.InnerException.Should().BeOfType<ConcurrencyLimitExceededException>()
                        .Which.ErrorCode.Should().Be(
                            request.Expected.Outcome == Outcome.SessionReleased ? ConcurrencyErrorCode.SessionReleased : ConcurrencyErrorCode.QueueTimeout, context);
                    break;
            }
        }
    }

    private static void CompareStatus(ConcurrencyStatus status, Model model, string context)
    {
        status.ActiveRuns.Should().Be(model.Runs, $"{context}: active runs");
        status.ActiveSessions.Should().Be(model.SessionRuns.Count, $"{context}: active sessions");
        status.QueuedRequests.Should().Be(model.Queue.Count, $"{context}: queued requests");
        for (var agent = 0; agent < DeclaredLimits.Length; agent++)
        {
            var shown = status.Agents.SingleOrDefault(a => a.AgentId == Agent(agent).Id);
            if (shown is null)
            {
                model.Seen[agent].Should().BeFalse($"{context}: agent {agent} was used, so it is listed");
                continue;
            }

            shown.Active.Should().Be(model.Active[agent], $"{context}: agent {agent} active");
            shown.Limit.Should().Be(model.Limit(agent), $"{context}: agent {agent} limit");
            shown.QueuedRequests.Select(static q => (q.SessionId, q.RunId, q.Source, q.Priority)).Should().Equal(
                model.Queue.Where(r => r.Agent == agent).Select(static r => (SessionId(r.Session), RunId(r.RunId), SourceId(r.Source), r.Priority)),
                $"{context}: agent {agent}'s queue in serving order");
        }
    }

    private static AgentDef Agent(int index) => new($"agent-{index}", DeclaredLimits[index]);

    private static string? SessionId(int? session) => session is { } s ? $"session-{s}" : null;

    private static string? SourceId(int? source) => source is { } s ? $"source-{s}" : null;

    private static string? RunId(int? run) => run is { } r ? $"run-{r}" : null;

    private static AcquireOptions ToOptions(int? session, int? run, int? source, int priority, int? timeoutSeconds) => new()
    {
        SessionId = SessionId(session),
        RunId = RunId(run),
        Source = SourceId(source),
        Priority = priority,
        QueueTimeout = timeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
    };

    private static AgentConcurrencyOptions Options(int?[] overrides)
    {
        var options = new AgentConcurrencyOptions
        {
            MaxParallelRuns = MaxRuns,
            MaxParallelSessions = MaxSessions,
            MaxConcurrencyPerSource = PerSource,
            IdleAgentTimeout = Timeout.InfiniteTimeSpan,
        };
        for (var agent = 0; agent < overrides.Length; agent++)
        {
            if (overrides[agent] is { } limit)
            {
                options.AgentLimits[Agent(agent).Id] = limit;
            }
        }

        return options;
    }

    public abstract record Op;

    public sealed record Acquire(int Agent, int? Session, int? Run, int? Source, int Priority, int? TimeoutSeconds) : Op;

    public sealed record TryAcquire(int Agent, int? Session, int? Run, int? Source) : Op;

    /// <summary>Disposes one of the slots handed out so far, held or not: releasing twice is part of the game.</summary>
    public sealed record Release(int Slot) : Op;

    /// <summary>Cancels the token of one of the requests made so far, waiting or not.</summary>
    public sealed record Cancel(int Request) : Op;

    public sealed record Advance(int Seconds) : Op;

    public sealed record SetLimit(int Agent, int Limit) : Op;

    public sealed record ReleaseSession(int Session) : Op;

    private enum Outcome
    {
        Waiting,
        Granted,
        Canceled,
        TimedOut,
        SessionReleased,
        RefusedAtOnce,
        Conflict,
    }

    private sealed class Request(ValueTask<AgentSlot> pending, CancellationTokenSource cancellation, Model.Waiter expected)
    {
        private Task<AgentSlot>? _outcome;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public Model.Waiter Expected { get; } = expected;

        public bool SlotTaken { get; set; }

        /// <summary>
        /// The request's outcome as a completed task, or null while it waits. Its ValueTask is read until it completes and
        /// its outcome is taken then, once, as a ValueTask's must be: the limiter may use its waiter again afterwards.
        /// </summary>
        public Task<AgentSlot>? TakeOutcome()
        {
            if (_outcome is null && pending.IsCompleted)
            {
                // A completed ValueTask becomes a completed task at once.
                _outcome = pending.AsTask();
            }

            return _outcome;
        }
    }

    /// <summary>The contract, sequentially: grant when every limit has room, else wait in order of priority, then arrival.</summary>
    private sealed class Model
    {
        private int _now;
        private int _arrivals;

        public int?[] Overrides { get; } = new int?[DeclaredLimits.Length];

        public int[] Active { get; } = new int[DeclaredLimits.Length];

        public bool[] Seen { get; } = new bool[DeclaredLimits.Length];

        public int Runs { get; private set; }

        public Dictionary<int, int> SessionRuns { get; } = [];

        public Dictionary<int, int> SourceRuns { get; } = [];

        public List<Waiter> Queue { get; } = [];

        public int Limit(int agent) => Overrides[agent] ?? DeclaredLimits[agent];

        /// <summary>Whether the run id is active in a way this request cannot join: another agent or another session.</summary>
        public bool Conflicts(int agent, int? session, int? runId) =>
            ActiveRun(runId) is { } run && (run.Agent != agent || (session is not null && run.Session != session));

        public Waiter Acquire(int agent, int? session, int? runId, int? source, int priority, int? timeoutSeconds)
        {
            Seen[agent] = true;
            var waiter = new Waiter(++_arrivals, agent, session, runId, source, priority, timeoutSeconds is { } t ? _now + t : null);
            if (ActiveRun(runId) is { } joined)
            {
                waiter.Grant(joined);
            }
            else if (Fits(agent, session, source))
            {
                waiter.Grant(Start(agent, session, runId, source));
                Scan();
            }
            else if (timeoutSeconds == 0)
            {
                waiter.Outcome = Outcome.RefusedAtOnce;
            }
            else
            {
                // After every waiter it must not overtake: those of higher or equal priority.
                var index = Queue.FindLastIndex(w => w.Priority >= priority) + 1;
                Queue.Insert(index, waiter);
            }

            return waiter;
        }

        public Run? TryAcquire(int agent, int? session, int? runId, int? source)
        {
            Seen[agent] = true;
            if (ActiveRun(runId) is { } joined)
            {
                return joined;
            }

            if (!Fits(agent, session, source))
            {
                return null;
            }

            var run = Start(agent, session, runId, source);
            Scan();
            return run;
        }

        public void Release(Run run)
        {
            End(run);
            Scan();
        }

        public void Cancel(Waiter waiter)
        {
            // A cancel after the grant was handed over changes nothing; a waiter's leaving frees nothing, so no scan.
            if (Queue.Remove(waiter))
            {
                waiter.Outcome = Outcome.Canceled;
            }
        }

        public void Advance(int seconds)
        {
            _now += seconds;
            foreach (var waiter in Queue.Where(w => w.Deadline <= _now).ToList())
            {
                Queue.Remove(waiter);
                waiter.Outcome = Outcome.TimedOut;
            }
        }

        public void ReleaseSession(int session)
        {
            foreach (var waiter in Queue.Where(w => w.Session == session).ToList())
            {
                Queue.Remove(waiter);
                waiter.Outcome = Outcome.SessionReleased;
            }

            foreach (var run in _runs.Where(r => r.Session == session).ToList())
            {
                End(run);
            }

            Scan();
        }

        /// <summary>
        /// Grants, in serving order, every waiter that can join its run or whose needs all fit; fails a waiter whose run id
        /// is active where it cannot join. Passes again while a pass started a run with an id an earlier waiter asked for.
        /// </summary>
        public void Scan()
        {
            bool changed;
            do
            {
                changed = false;
                foreach (var waiter in Queue.ToList())
                {
                    if (Conflicts(waiter.Agent, waiter.Session, waiter.RunId))
                    {
                        Queue.Remove(waiter);
                        waiter.Outcome = Outcome.Conflict;
                    }
                    else if (ActiveRun(waiter.RunId) is { } joined)
                    {
                        Queue.Remove(waiter);
                        waiter.Grant(joined);
                    }
                    else if (Fits(waiter.Agent, waiter.Session, waiter.Source))
                    {
                        Queue.Remove(waiter);
                        waiter.Grant(Start(waiter.Agent, waiter.Session, waiter.RunId, waiter.Source));
                        changed |= waiter.RunId is not null;
                    }
                }
            }
            while (changed);
        }

        private readonly List<Run> _runs = [];

        private bool Fits(int agent, int? session, int? source) =>
            Active[agent] < Limit(agent)
            && (source is not { } s || SourceRuns.GetValueOrDefault(s) < PerSource)
            && (session is not { } id || SessionRuns.ContainsKey(id) || SessionRuns.Count < MaxSessions)
            && Runs < MaxRuns;

        private Run? ActiveRun(int? runId) => runId is null ? null : _runs.Find(r => r.Id == runId);

        private Run Start(int agent, int? session, int? runId, int? source)
        {
            Active[agent]++;
            Runs++;
            if (source is { } s)
            {
                SourceRuns[s] = SourceRuns.GetValueOrDefault(s) + 1;
            }

            if (session is { } id)
            {
                SessionRuns[id] = SessionRuns.GetValueOrDefault(id) + 1;
            }

            var run = new Run(agent, session, runId, source);
            _runs.Add(run);
            return run;
        }

        private void End(Run run)
        {
            if (!run.Active)
            {
                return;
            }

            run.Active = false;
            _runs.Remove(run);
            Active[run.Agent]--;
            Runs--;
            if (run.Source is { } s && --SourceRuns[s] == 0)
            {
                SourceRuns.Remove(s);
            }

            if (run.Session is { } id && --SessionRuns[id] == 0)
            {
                SessionRuns.Remove(id);
            }
        }

        public sealed class Run(int agent, int? session, int? id, int? source)
        {
            public int Agent { get; } = agent;

            public int? Session { get; } = session;

            public int? Id { get; } = id;

            public int? Source { get; } = source;

            public bool Active { get; set; } = true;
        }

        public sealed class Waiter(int number, int agent, int? session, int? runId, int? source, int priority, int? deadline)
        {
            public int Number { get; } = number;

            public int Agent { get; } = agent;

            public int? Session { get; } = session;

            public int? RunId { get; } = runId;

            public int? Source { get; } = source;

            public int Priority { get; } = priority;

            public int? Deadline { get; } = deadline;

            public Outcome Outcome { get; set; } = Outcome.Waiting;

            public Run? Run { get; private set; }

            public void Grant(Run run)
            {
                Run = run;
                Outcome = Outcome.Granted;
            }
        }
    }

    /// <summary>Listens to the slot metrics of one limiter: the active slots they add up to, and how many runs ended and were timed.</summary>
    private sealed class SlotMetrics : IDisposable
    {
        private readonly MeterListener _listener;
        private long _activeSlots;
        private int _ended;
        private int _timed;

        public SlotMetrics(IMeterFactory meterFactory)
        {
            _listener = new MeterListener
            {
                InstrumentPublished = (instrument, listener) =>
                {
                    if (instrument.Meter.Scope == meterFactory && instrument.Name is "agent_concurrency.active_slots" or "agent_concurrency.slot.duration")
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<long>((_, change, _, _) =>
            {
                _activeSlots += change;
                _ended += change < 0 ? 1 : 0;
            });
            _listener.SetMeasurementEventCallback<double>((_, _, _, _) => _timed++);
            _listener.Start();
        }

        /// <summary>Every measurement is recorded on the thread that made the change, before the call returns: nothing is in flight.</summary>
        public void ShouldMatch(ConcurrencyStatus status, string context)
        {
            _activeSlots.Should().Be(status.Agents.Sum(agent => agent.Active), $"the active-slots metric adds up to the runs held, {context}");
            _timed.Should().Be(_ended, $"every run that ended was timed, {context}");
        }

        public void Dispose() => _listener.Dispose();
    }
}
