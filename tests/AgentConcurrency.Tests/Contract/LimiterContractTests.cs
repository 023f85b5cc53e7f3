using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Contract;

/// <summary>
/// The contract of <see cref="IAgentConcurrencyLimiter"/>, run against every limiter: what code written against the
/// interface may rely on, whichever limiter it is given. Each limiter's own suite derives from this one.
/// </summary>
/// <remarks>
/// Every wait is bounded, and the tests synchronise on the requests themselves (<see cref="AcquireOptions.OnQueued"/>
/// says a request is queued), so they hold for a limiter whose counts live across a network as for one in process.
/// Time that matters (queue timeouts, wait times) is a <see cref="FakeTimeProvider"/>.
/// </remarks>
public abstract class LimiterContractTests : IAsyncLifetime
{
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static readonly AgentDef Coder = new("coder", MaxConcurrency: 2);
    private static readonly AgentDef Solo = new("solo", MaxConcurrency: 1);
    private readonly List<IAgentConcurrencyLimiter> _limiters = [];

    protected FakeTimeProvider Time { get; } = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var limiter in _limiters)
        {
            await ((IAsyncDisposable)limiter).DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Grants_up_to_the_agent_limit_then_TryAcquire_refuses()
    {
        var limiter = NewLimiter();
        await using var first = await limiter.AcquireAsync(Coder);
        await using var second = await limiter.AcquireAsync(Coder);

        limiter.TryAcquire(Coder, null, out var third).Should().BeFalse();
        third.IsHeld.Should().BeFalse();
        first.IsHeld.Should().BeTrue();
        first.AgentId.Should().Be("coder");
        Agent(limiter, "coder").Should().Match<AgentStatus>(a => a.Active == 2 && a.Available == 0 && a.Limit == 2);
    }

    [SkippableFact]
    public async Task Releasing_a_slot_gives_its_permit_back_once()
    {
        var limiter = NewLimiter();
        var slot = await limiter.AcquireAsync(Solo);
        var copy = slot;

        await slot.DisposeAsync();
        await copy.DisposeAsync();

        slot.IsHeld.Should().BeFalse();
        limiter.TryAcquire(Solo, null, out var next).Should().BeTrue();
        await next.DisposeAsync();
        limiter.GetStatus().ActiveRuns.Should().Be(0, "a double release must not free a permit twice");
    }

    [SkippableFact]
    public async Task Waiters_are_served_in_arrival_order()
    {
        var limiter = NewLimiter();
        var holder = await limiter.AcquireAsync(Solo);
        var first = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "first" });
        var second = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "second" });
        var third = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "third" });

        await holder.DisposeAsync();
        var granted = await first.WaitAsync(Bound);
        granted.RunId.Should().Be("first");
        QueuedRunIds(limiter, "solo").Should().Equal("second", "third");

        await granted.DisposeAsync();
        (await second.WaitAsync(Bound)).RunId.Should().Be("second");
        QueuedRunIds(limiter, "solo").Should().Equal("third");
        third.IsCompleted.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_higher_priority_is_served_before_earlier_arrivals()
    {
        var limiter = NewLimiter();
        var holder = await limiter.AcquireAsync(Solo);
        var low = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "low", Priority = 0 });
        var high = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "high", Priority = 5 });

        QueuedRunIds(limiter, "solo").Should().Equal("high", "low");
        await holder.DisposeAsync();

        (await high.WaitAsync(Bound)).RunId.Should().Be("high");
        low.IsCompleted.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_queued_request_learns_its_position_and_shows_in_the_status()
    {
        var limiter = NewLimiter();
        await using var holder = await limiter.AcquireAsync(Solo);
        var positions = new List<int>();
        var options = new AcquireOptions { SessionId = "s1", Source = "alice", Priority = 3, OnQueued = request => positions.Add(request.Position) };

        var first = await limiter.EnqueueAsync(Solo, options);
        var second = await limiter.EnqueueAsync(Solo, options);

        positions.Should().Equal(1, 2);
        var status = limiter.GetStatus();
        status.QueuedRequests.Should().Be(2);
        var queued = status.Agents.Single(a => a.AgentId == "solo").QueuedRequests;
        queued.Select(r => r.Position).Should().Equal(1, 2);
        queued[0].Should().Match<QueuedRequest>(r => r.SessionId == "s1" && r.Source == "alice" && r.Priority == 3 && r.AgentId == "solo");
        first.IsCompleted.Should().BeFalse();
        second.IsCompleted.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_throwing_queue_callback_takes_the_request_out_of_the_queue_and_reaches_the_caller()
    {
        var limiter = NewLimiter();
        var holder = await limiter.AcquireAsync(Solo);
        var broken = new InvalidOperationException("callback failed");

        var thrown = await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo, new AcquireOptions { OnQueued = _ => throw broken }).AsTask().WaitAsync(Bound))
            .Should().ThrowAsync<InvalidOperationException>();

        thrown.Which.Should().BeSameAs(broken);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        await holder.DisposeAsync();
        limiter.GetStatus().ActiveRuns.Should().Be(0, "the request that left must not be granted the freed slot");
    }

    [SkippableFact]
    public async Task Reject_mode_refuses_at_once_with_the_limit_that_blocked()
    {
        var limiter = NewLimiter(options => options.WhenFull = QueueFullMode.Reject);
        await using var holder = await limiter.AcquireAsync(Solo);

        var refusal = await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo).AsTask()).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.AgentLimitReached);
        refusal.Which.AgentId.Should().Be("solo");
        limiter.GetStatus().QueuedRequests.Should().Be(0);
    }

    [SkippableFact]
    public async Task Reject_mode_names_the_global_limit_when_that_is_what_is_full()
    {
        var limiter = NewLimiter(options =>
        {
            options.WhenFull = QueueFullMode.Reject;
            options.MaxParallelRuns = 1;
        });
        await using var holder = await limiter.AcquireAsync(Solo);

        var refusal = await FluentActions.Awaiting(() => limiter.AcquireAsync(Coder).AsTask()).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.MaxRunsExceeded);
    }

    [SkippableFact]
    public async Task A_waiter_held_back_by_its_source_does_not_hold_back_another_source()
    {
        var limiter = NewLimiter(options => options.MaxConcurrencyPerSource = 1);
        await using var alice = await limiter.AcquireAsync(Coder, new AcquireOptions { Source = "alice" });
        var aliceAgain = await limiter.EnqueueAsync(Coder, new AcquireOptions { Source = "alice" });

        await using var bob = await limiter.AcquireAsync(Coder, new AcquireOptions { Source = "bob" }).AsTask().WaitAsync(Bound);

        bob.IsHeld.Should().BeTrue();
        aliceAgain.IsCompleted.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_waiter_learns_at_once_when_its_run_id_is_taken_by_a_run_it_cannot_join()
    {
        var limiter = NewLimiter();
        await using var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "r9" });

        limiter.TryAcquireRunSlot("s1", "r9").Succeeded.Should().BeTrue();

        var thrown = await FluentActions.Awaiting(() => waiting.WaitAsync(Bound)).Should().ThrowAsync<ArgumentException>();
        thrown.Which.ParamName.Should().Be("options");
        thrown.Which.Message.Should().Contain("r9");
    }

    [SkippableFact]
    public async Task A_full_queue_refuses_with_QueueFull()
    {
        var limiter = NewLimiter(options => options.QueueLimit = 1);
        await using var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);

        var refusal = await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo).AsTask()).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueFull);
        waiting.IsCompleted.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_zero_timeout_fails_at_once_without_queueing()
    {
        var limiter = NewLimiter();
        await using var holder = await limiter.AcquireAsync(Solo);
        var queued = false;

        var refusal = await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo, new AcquireOptions { QueueTimeout = TimeSpan.Zero, OnQueued = _ => queued = true }).AsTask())
            .Should().ThrowAsync<ConcurrencyLimitExceededException>();

        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
        queued.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_request_that_waits_past_its_timeout_fails_and_leaves_the_queue()
    {
        var limiter = NewLimiter(options => options.QueueTimeout = TimeSpan.FromSeconds(5));
        var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);

        Time.Advance(TimeSpan.FromSeconds(5));

        var refusal = await FluentActions.Awaiting(() => waiting.WaitAsync(Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
        limiter.GetStatus().QueuedRequests.Should().Be(0);
        await holder.DisposeAsync();
        limiter.GetStatus().ActiveRuns.Should().Be(0, "the timed-out request must not be granted the freed slot");
    }

    [SkippableFact]
    public async Task A_cancelled_waiter_throws_with_its_token_and_the_next_waiter_gets_the_slot()
    {
        var limiter = NewLimiter();
        var holder = await limiter.AcquireAsync(Solo);
        using var cancel = new CancellationTokenSource();
        var cancelled = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "cancelled" }, cancel.Token);
        var next = await limiter.EnqueueAsync(Solo, new AcquireOptions { RunId = "next" });

        await cancel.CancelAsync();
        var thrown = await FluentActions.Awaiting(() => cancelled.WaitAsync(Bound)).Should().ThrowAsync<OperationCanceledException>();
        thrown.Which.CancellationToken.Should().Be(cancel.Token);

        await holder.DisposeAsync();
        (await next.WaitAsync(Bound)).RunId.Should().Be("next");
        limiter.GetStatus().ActiveRuns.Should().Be(1, "the cancelled waiter holds nothing");
    }

    [SkippableFact]
    public async Task An_already_cancelled_token_fails_even_with_room()
    {
        var limiter = NewLimiter();
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await FluentActions.Awaiting(() => limiter.AcquireAsync(Coder, cancel.Token).AsTask()).Should().ThrowAsync<OperationCanceledException>();

        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    [SkippableFact]
    public async Task The_global_run_limit_holds_across_agents()
    {
        var limiter = NewLimiter(options => options.MaxParallelRuns = 2);
        var coder = await limiter.AcquireAsync(Coder);
        await using var solo = await limiter.AcquireAsync(Solo);

        limiter.TryAcquire(Coder, null, out _).Should().BeFalse("two runs are active, whatever their agents");
        var waiting = await limiter.EnqueueAsync(Coder);
        await coder.DisposeAsync();

        await using var granted = await waiting.WaitAsync(Bound);
        limiter.GetStatus().ActiveRuns.Should().Be(2);
    }

    [SkippableFact]
    public async Task The_session_limit_refuses_new_sessions_but_not_runs_of_active_ones()
    {
        var limiter = NewLimiter(options => options.MaxParallelSessions = 1);
        await using var first = await limiter.AcquireAsync(Coder, new AcquireOptions { SessionId = "s1" });

        limiter.TryAcquire(Coder, new AcquireOptions { SessionId = "s1" }, out var sameSession).Should().BeTrue();
        limiter.TryAcquire(Solo, new AcquireOptions { SessionId = "s2" }, out _).Should().BeFalse();
        limiter.TryAcquireSessionSlot("s3").Error.Should().Be(ConcurrencyErrorCode.MaxSessionsExceeded);
        limiter.GetStatus().ActiveSessions.Should().Be(1);
        await sameSession.DisposeAsync();
    }

    [SkippableFact]
    public async Task The_source_limit_holds_per_source()
    {
        var limiter = NewLimiter(options => options.MaxConcurrencyPerSource = 1);
        await using var alice = await limiter.AcquireAsync(Coder, new AcquireOptions { Source = "alice" });

        limiter.TryAcquire(Coder, new AcquireOptions { Source = "alice" }, out _).Should().BeFalse();
        limiter.TryAcquire(Coder, new AcquireOptions { Source = "bob" }, out var bob).Should().BeTrue();
        await bob.DisposeAsync();
    }

    [SkippableFact]
    public async Task The_same_run_id_joins_the_run_and_counts_once()
    {
        var limiter = NewLimiter();
        var first = await limiter.AcquireAsync(Coder, new AcquireOptions { RunId = "r1", SessionId = "s1" });
        var joined = await limiter.AcquireAsync(Coder, new AcquireOptions { RunId = "r1" });

        joined.Should().Be(first, "both hold the one run");
        joined.SessionId.Should().Be("s1");
        Agent(limiter, "coder").Active.Should().Be(1);

        await joined.DisposeAsync();
        first.IsHeld.Should().BeFalse("releasing any slot of a run releases the run");
        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    [SkippableFact]
    public async Task A_run_id_active_for_another_agent_is_a_caller_error_that_changes_nothing()
    {
        var limiter = NewLimiter();
        await using var run = await limiter.AcquireAsync(Coder, new AcquireOptions { RunId = "r1" });

        var thrown = await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo, new AcquireOptions { RunId = "r1" }).AsTask()).Should().ThrowAsync<ArgumentException>();

        thrown.Which.ParamName.Should().Be("options");
        thrown.Which.Message.Should().Contain("coder");
        limiter.GetStatus().ActiveRuns.Should().Be(1);
    }

    [SkippableFact]
    public async Task Session_slots_are_idempotent_and_released_with_their_runs()
    {
        var limiter = NewLimiter(options => options.MaxParallelSessions = 2);
        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        limiter.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        var run = await limiter.AcquireAsync(Solo, new AcquireOptions { SessionId = "s1" });
        var waiting = await limiter.EnqueueAsync(Solo, new AcquireOptions { SessionId = "s1" });
        limiter.GetStatus().ActiveSessions.Should().Be(1);

        limiter.ReleaseSessionSlot("s1");

        var refusal = await FluentActions.Awaiting(() => waiting.WaitAsync(Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();
        refusal.Which.ErrorCode.Should().Be(ConcurrencyErrorCode.SessionReleased);
        run.IsHeld.Should().BeFalse();
        var status = limiter.GetStatus();
        status.ActiveSessions.Should().Be(0);
        status.ActiveRuns.Should().Be(0);
    }

    [SkippableFact]
    public void Run_slots_are_idempotent_limited_and_released_by_id()
    {
        var limiter = NewLimiter(options => options.MaxParallelRuns = 1);
        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();
        limiter.TryAcquireRunSlot("s1", "r1").Succeeded.Should().BeTrue();
        limiter.TryAcquireRunSlot("s1", "r2").Error.Should().Be(ConcurrencyErrorCode.MaxRunsExceeded);
        FluentActions.Invoking(() => limiter.TryAcquireRunSlot("s2", "r1")).Should().Throw<ArgumentException>().WithParameterName("runId");
        limiter.GetStatus().ActiveRuns.Should().Be(1);

        limiter.ReleaseRunSlot("r1");
        limiter.ReleaseRunSlot("r1");

        var status = limiter.GetStatus();
        status.ActiveRuns.Should().Be(0);
        status.ActiveSessions.Should().Be(0);
        limiter.TryAcquireRunSlot("s1", "r2").Succeeded.Should().BeTrue();
    }

    [SkippableFact]
    public async Task Releasing_a_run_by_id_releases_its_slots()
    {
        var limiter = NewLimiter();
        var slot = await limiter.AcquireAsync(Solo, new AcquireOptions { RunId = "r1" });

        limiter.ReleaseRunSlot("r1");

        slot.IsHeld.Should().BeFalse();
        limiter.TryAcquire(Solo, null, out var next).Should().BeTrue();
        await slot.DisposeAsync();
        Agent(limiter, "solo").Active.Should().Be(1, "the stale slot must not free the new run's permit");
        await next.DisposeAsync();
    }

    [SkippableFact]
    public async Task A_raised_limit_admits_waiters_at_once()
    {
        var limiter = NewLimiter();
        await using var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);

        limiter.TryAcquire(Solo with { MaxConcurrency = 3 }, null, out var third).Should().BeTrue();

        await using var admitted = await waiting.WaitAsync(Bound);
        Agent(limiter, "solo").Should().Match<AgentStatus>(a => a.Limit == 3 && a.Active == 3);
        await third.DisposeAsync();
    }

    [SkippableFact]
    public async Task A_granted_waiter_reports_how_long_it_waited()
    {
        var limiter = NewLimiter();
        var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);

        Time.Advance(TimeSpan.FromSeconds(3));
        await holder.DisposeAsync();

        await using var granted = await waiting.WaitAsync(Bound);
        granted.WaitTime.Should().Be(TimeSpan.FromSeconds(3));
        holder.WaitTime.Should().Be(TimeSpan.Zero);
    }

    /// <summary>
    /// A slot is a value: once released it still names what it was granted for, while the limiter gives the same permits
    /// (and, in process, the same run records) to runs of this agent and others, with other ids or none.
    /// </summary>
    [SkippableFact]
    public async Task A_released_slot_goes_on_naming_its_agent_ids_and_wait_when_its_permit_is_given_again()
    {
        var limiter = NewLimiter();
        var plain = await limiter.AcquireAsync(Solo);
        var withIds = await limiter.AcquireAsync(Coder, new AcquireOptions { SessionId = "s1", RunId = "r1" });
        await plain.DisposeAsync();
        await withIds.DisposeAsync();

        await using var otherAgent = await limiter.AcquireAsync(Coder);
        await using var otherIds = await limiter.AcquireAsync(Coder, new AcquireOptions { SessionId = "s2", RunId = "r2" });
        var sameAgent = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);
        Time.Advance(TimeSpan.FromSeconds(2));
        await sameAgent.DisposeAsync();
        await using var waited = await waiting.WaitAsync(Bound);

        plain.Should().Match<AgentSlot>(s => !s.IsHeld && s.AgentId == "solo" && s.SessionId == null && s.RunId == null && s.WaitTime == TimeSpan.Zero);
        withIds.Should().Match<AgentSlot>(s => !s.IsHeld && s.AgentId == "coder" && s.SessionId == "s1" && s.RunId == "r1");
        sameAgent.Should().Match<AgentSlot>(s => !s.IsHeld && s.AgentId == "solo" && s.SessionId == null && s.WaitTime == TimeSpan.Zero);
        waited.Should().Match<AgentSlot>(s => s.IsHeld && s.AgentId == "solo" && s.RunId == null && s.WaitTime == TimeSpan.FromSeconds(2));
        otherAgent.Should().Match<AgentSlot>(s => s.IsHeld && s.AgentId == "coder" && s.SessionId == null && s.RunId == null);
        otherIds.Should().Match<AgentSlot>(s => s.IsHeld && s.AgentId == "coder" && s.SessionId == "s2" && s.RunId == "r2");
    }

    [SkippableFact]
    public async Task Disposing_the_limiter_fails_its_waiters_and_later_acquires()
    {
        var limiter = NewLimiter();
        await using var holder = await limiter.AcquireAsync(Solo);
        var waiting = await limiter.EnqueueAsync(Solo);

        await ((IAsyncDisposable)limiter).DisposeAsync();

        await FluentActions.Awaiting(() => waiting.WaitAsync(Bound)).Should().ThrowAsync<ObjectDisposedException>();
        await FluentActions.Awaiting(() => limiter.AcquireAsync(Solo).AsTask()).Should().ThrowAsync<ObjectDisposedException>();
        FluentActions.Invoking(() => limiter.TryAcquire(Solo, null, out _)).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(() => limiter.ReleaseRunSlot("r1")).Should().NotThrow();
        limiter.GetStatus().Should().NotBeNull();
    }

    [SkippableFact]
    public void Bad_input_is_refused_with_the_argument_named()
    {
        var limiter = NewLimiter();

        FluentActions.Invoking(() => limiter.AcquireAsync(null!)).Should().Throw<ArgumentNullException>().WithParameterName("agent");
        FluentActions.Invoking(() => limiter.AcquireAsync(new AgentDef(" ", 1))).Should().Throw<ArgumentException>().WithParameterName("agent");
        FluentActions.Invoking(() => limiter.AcquireAsync(new AgentDef("a", 0))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("agent");
        FluentActions.Invoking(() => limiter.AcquireAsync(Coder, new AcquireOptions { SessionId = " " })).Should().Throw<ArgumentException>().WithParameterName("options");
        FluentActions.Invoking(() => limiter.AcquireAsync(Coder, new AcquireOptions { QueueTimeout = TimeSpan.FromSeconds(-2) }))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("options");
        FluentActions.Invoking(() => limiter.TryAcquireSessionSlot(" ")).Should().Throw<ArgumentException>().WithParameterName("sessionId");
        FluentActions.Invoking(() => limiter.ReleaseRunSlot(null!)).Should().Throw<ArgumentNullException>().WithParameterName("runId");
        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    [SkippableFact]
    public async Task Many_callers_never_exceed_the_limit_and_leave_nothing_behind()
    {
        var limiter = NewLimiter();
        var agent = new AgentDef("storm", MaxConcurrency: 3);
        var inFlight = 0;
        var peak = 0;

        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 15; i++)
            {
                var slot = await limiter.AcquireAsync(agent).AsTask().WaitAsync(Bound);
                var now = Interlocked.Increment(ref inFlight);
                TestSupport.RaiseTo(ref peak, now);
                await Task.Yield();
                Interlocked.Decrement(ref inFlight);
                await slot.DisposeAsync();
            }
        }))).WaitAsync(Bound * 3);

        peak.Should().BeInRange(1, 3);
        var status = limiter.GetStatus();
        status.ActiveRuns.Should().Be(0);
        status.QueuedRequests.Should().Be(0);
    }

    /// <summary>Creates the limiter under test with <paramref name="options"/>, on <paramref name="timeProvider"/>.</summary>
    protected abstract IAgentConcurrencyLimiter CreateLimiter(AgentConcurrencyOptions options, TimeProvider timeProvider);

    protected IAgentConcurrencyLimiter NewLimiter(Action<AgentConcurrencyOptions>? configure = null)
    {
        var options = new AgentConcurrencyOptions();
        configure?.Invoke(options);
        var limiter = CreateLimiter(options, Time);
        _limiters.Add(limiter);
        return limiter;
    }

    protected static AgentStatus Agent(IAgentConcurrencyLimiter limiter, string agentId) =>
        limiter.GetStatus().Agents.Single(agent => agent.AgentId == agentId);

    private static IEnumerable<string?> QueuedRunIds(IAgentConcurrencyLimiter limiter, string agentId) =>
        Agent(limiter, agentId).QueuedRequests.Select(request => request.RunId);
}
