using System.Text;

namespace AgentConcurrency.Tests;

/// <summary>
/// Every public entry point crossed with null, empty, whitespace, negative, zero, huge and already-cancelled inputs, on a
/// limiter that holds runs, sessions and waiters: each call gives its documented exception and changes nothing that
/// <see cref="AgentConcurrencyLimiter.GetStatus"/> shows.
/// </summary>
public class BadInputMatrixTests
{
    private static readonly AgentDef Busy = new("busy", 1);

    /// <summary>Calls that must throw synchronously: a caller error, named by its argument.</summary>
    private static readonly Dictionary<string, (Action<AgentConcurrencyLimiter> Call, Type Exception, string ParamName)> Throwing = BuildCases();

    public static TheoryData<string> ThrowingCases => [.. Throwing.Keys];

    [Theory]
    [MemberData(nameof(ThrowingCases))]
    public async Task BadInput_ThrowsNamingTheArgument_AndChangesNothing(string name)
    {
        var (call, exception, paramName) = Throwing[name];
        await using var limiter = await BusyLimiterAsync();
        var before = Fingerprint(limiter.GetStatus());

        var thrown = limiter.Invoking(call).Should().Throw<ArgumentException>().Which;

        thrown.Should().BeOfType(exception);
        thrown.ParamName.Should().Be(paramName);
        Fingerprint(limiter.GetStatus()).Should().Be(before);
    }

    [Fact]
    public async Task AlreadyCancelledToken_FailsTheTaskAtOnce_AndChangesNothing()
    {
        await using var limiter = await BusyLimiterAsync();
        var before = Fingerprint(limiter.GetStatus());
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        foreach (var agent in new[] { Busy, new AgentDef("idle", 5) })
        {
            var pending = limiter.AcquireAsync(agent, new AcquireOptions { SessionId = "new-session", RunId = "new-run" }, cancelled.Token);

            pending.IsCanceled.Should().BeTrue($"a cancelled token fails at once, with or without room ({agent.Id})");
            (await pending.AsTask().Invoking(t => t).Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cancelled.Token);
        }

        Fingerprint(limiter.GetStatus()).Should().Be(before);
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsNamingOptions()
    {
        var act = () => new AgentConcurrencyLimiter(new AgentConcurrencyOptions { MaxParallelRuns = 0, QueueLimit = -1 });

        act.Should().Throw<ArgumentException>().WithParameterName("options")
            .Which.Message.Should().Contain("MaxParallelRuns").And.Contain("QueueLimit");
    }

    [Fact]
    public async Task AfterDisposal_AcquiresThrowObjectDisposed_AndReleasesChangeNothing()
    {
        var limiter = await BusyLimiterAsync();
        await limiter.DisposeAsync();
        var before = Fingerprint(limiter.GetStatus());
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        limiter.Invoking(l => l.AcquireAsync(Busy)).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.AcquireAsync(Busy, cancelled.Token)).Should().Throw<ObjectDisposedException>("disposal wins over cancellation");
        limiter.Invoking(l => l.TryAcquire(new AgentDef("idle", 5), null, out _)).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquireSessionSlot("new-session")).Should().Throw<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquireRunSlot("new-session", "new-run")).Should().Throw<ObjectDisposedException>();
        limiter.ReleaseRunSlot("held-run");
        limiter.ReleaseSessionSlot("held-session");
        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 1 });

        Fingerprint(limiter.GetStatus()).Should().Be(before);
    }

    [Fact]
    public async Task HugeButValidInputs_AreAccepted()
    {
        await using var limiter = TestSupport.CreateLimiter(options =>
        {
            options.MaxParallelRuns = int.MaxValue;
            options.MaxParallelSessions = int.MaxValue;
            options.QueueLimit = int.MaxValue;
        });
        var longId = new string('a', 10_000);

        await using var slot = await limiter.AcquireAsync(
            new AgentDef(longId, int.MaxValue),
            new AcquireOptions { SessionId = longId, RunId = longId, Source = longId, Priority = int.MinValue, QueueTimeout = Timeout.InfiniteTimeSpan });

        slot.Should().Match<AgentSlot>(s => s.IsHeld && s.AgentId == longId && s.RunId == longId);
        limiter.GetStatus().Agent(longId).Available.Should().Be(int.MaxValue - 1);
    }

    private static Dictionary<string, (Action<AgentConcurrencyLimiter> Call, Type Exception, string ParamName)> BuildCases()
    {
        var cases = new Dictionary<string, (Action<AgentConcurrencyLimiter>, Type, string)>();
        void Add(string name, Action<AgentConcurrencyLimiter> call, Type exception, string paramName) => cases.Add(name, (call, exception, paramName));

        // Every id a caller passes, null, empty and whitespace.
        foreach (var id in new string?[] { null, string.Empty, " \t" })
        {
            var shown = id is null ? "null" : $"'{id}'";
            var expected = id is null ? typeof(ArgumentNullException) : typeof(ArgumentException);
            Add($"AcquireAsync agent id {shown}", l => l.AcquireAsync(new AgentDef(id!, 1)), expected, "agent");
            Add($"TryAcquire agent id {shown}", l => l.TryAcquire(new AgentDef(id!, 1), null, out _), expected, "agent");
            Add($"TryAcquireSessionSlot {shown}", l => l.TryAcquireSessionSlot(id!), expected, "sessionId");
            Add($"TryAcquireRunSlot session {shown}", l => l.TryAcquireRunSlot(id!, "r"), expected, "sessionId");
            Add($"TryAcquireRunSlot run {shown}", l => l.TryAcquireRunSlot("s", id!), expected, "runId");
            Add($"ReleaseRunSlot {shown}", l => l.ReleaseRunSlot(id!), expected, "runId");
            Add($"ReleaseSessionSlot {shown}", l => l.ReleaseSessionSlot(id!), expected, "sessionId");
            if (id is not null)
            {
                // In AcquireOptions null means "not set"; set, an id must not be blank.
                foreach (var (field, options) in new[]
                {
                    ("SessionId", new AcquireOptions { SessionId = id }),
                    ("RunId", new AcquireOptions { RunId = id }),
                    ("Source", new AcquireOptions { Source = id }),
                })
                {
                    Add($"AcquireAsync {field} {shown}", l => l.AcquireAsync(Busy, options), typeof(ArgumentException), "options");
                    Add($"TryAcquire {field} {shown}", l => l.TryAcquire(Busy, options, out _), typeof(ArgumentException), "options");
                }
            }
        }

        // Limits and timeouts: zero, negative and huge.
        foreach (var limit in new[] { 0, -1, int.MinValue })
        {
            Add($"AcquireAsync MaxConcurrency {limit}", l => l.AcquireAsync(new AgentDef("busy", limit)), typeof(ArgumentOutOfRangeException), "agent");
            Add($"TryAcquire MaxConcurrency {limit}", l => l.TryAcquire(new AgentDef("busy", limit), null, out _), typeof(ArgumentOutOfRangeException), "agent");
        }

        foreach (var timeout in new[] { TimeSpan.FromTicks(-1), TimeSpan.MinValue, TimeSpan.MaxValue, TimeSpan.FromDays(50) })
        {
            var options = new AcquireOptions { QueueTimeout = timeout };
            Add($"AcquireAsync QueueTimeout {timeout}", l => l.AcquireAsync(Busy, options), typeof(ArgumentOutOfRangeException), "options");
            Add($"TryAcquire QueueTimeout {timeout}", l => l.TryAcquire(Busy, options, out _), typeof(ArgumentOutOfRangeException), "options");
            Add($"UpdateOptions QueueTimeout {timeout}", l => l.UpdateOptions(new AgentConcurrencyOptions { QueueTimeout = timeout }), typeof(ArgumentException), "options");
        }

        Add("AcquireAsync null agent", l => l.AcquireAsync(null!), typeof(ArgumentNullException), "agent");
        Add("TryAcquire null agent", l => l.TryAcquire(null!, null, out _), typeof(ArgumentNullException), "agent");
        Add("AcquireAsync null options", l => l.AcquireAsync(Busy, null!), typeof(ArgumentNullException), "options");
        Add("AcquireAsync run of another session", l => l.AcquireAsync(Busy, new AcquireOptions { SessionId = "other", RunId = "held-run" }), typeof(ArgumentException), "options");
        Add("TryAcquireRunSlot run of another session", l => l.TryAcquireRunSlot("other", "held-run"), typeof(ArgumentException), "runId");
        Add("UpdateOptions null", l => l.UpdateOptions(null!), typeof(ArgumentNullException), "options");
        Add("UpdateOptions MaxParallelRuns 0", l => l.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 0 }), typeof(ArgumentException), "options");
        Add("UpdateOptions MaxParallelSessions -1", l => l.UpdateOptions(new AgentConcurrencyOptions { MaxParallelSessions = -1 }), typeof(ArgumentException), "options");
        Add("UpdateOptions QueueLimit int.MinValue", l => l.UpdateOptions(new AgentConcurrencyOptions { QueueLimit = int.MinValue }), typeof(ArgumentException), "options");
        Add("UpdateOptions MaxConcurrencyPerSource 0", l => l.UpdateOptions(new AgentConcurrencyOptions { MaxConcurrencyPerSource = 0 }), typeof(ArgumentException), "options");
        Add("UpdateOptions IdleAgentTimeout 0", l => l.UpdateOptions(new AgentConcurrencyOptions { IdleAgentTimeout = TimeSpan.Zero }), typeof(ArgumentException), "options");
        Add("UpdateOptions undefined WhenFull", l => l.UpdateOptions(new AgentConcurrencyOptions { WhenFull = (QueueFullMode)42 }), typeof(ArgumentException), "options");
        Add("UpdateOptions AgentLimits entry 0", l => l.UpdateOptions(WithAgentLimit("busy", 0)), typeof(ArgumentException), "options");
        return cases;
    }

    /// <summary>A limiter with something of everything: a held run in a session, a pinned session, an explicit run slot, and a waiter.</summary>
    private static async Task<AgentConcurrencyLimiter> BusyLimiterAsync()
    {
        var limiter = TestSupport.CreateLimiter(options => options.MaxConcurrencyPerSource = 5);
        await limiter.AcquireAsync(Busy, new AcquireOptions { SessionId = "held-session", RunId = "held-run", Source = "cli" });
        limiter.TryAcquireSessionSlot("pinned-session").Succeeded.Should().BeTrue();
        limiter.TryAcquireRunSlot("pinned-session", "explicit-run").Succeeded.Should().BeTrue();
        _ = limiter.AcquireAsync(Busy, new AcquireOptions { SessionId = "waiting-session", Priority = 2 }).ShouldBeWaiting();
        return limiter;
    }

    private static AgentConcurrencyOptions WithAgentLimit(string agentId, int limit)
    {
        var options = new AgentConcurrencyOptions();
        options.AgentLimits[agentId] = limit;
        return options;
    }

    /// <summary>Everything a status shows, as one string, so two snapshots compare in one assertion with a readable difference.</summary>
    private static string Fingerprint(ConcurrencyStatus status)
    {
        var text = new StringBuilder()
            .Append($"sessions {status.ActiveSessions}/{status.MaxParallelSessions}, runs {status.ActiveRuns}/{status.MaxParallelRuns}, queued {status.QueuedRequests}");
        foreach (var agent in status.Agents)
        {
            text.Append($"; {agent.AgentId} {agent.Active}/{agent.Limit}");
            foreach (var request in agent.QueuedRequests)
            {
                text.Append($" [{request.Position} {request.SessionId} {request.RunId} {request.Source} {request.Priority} {request.EnqueuedAt:O}]");
            }
        }

        return text.ToString();
    }
}
