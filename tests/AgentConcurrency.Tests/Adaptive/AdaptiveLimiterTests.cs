using AgentConcurrency.Tests.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Adaptive;

/// <summary>Adaptive limits as a user meets them: through the limiter, its status, its metric and its log.</summary>
public sealed class AdaptiveLimiterTests
{
    private static readonly AgentDef Coder = new("coder", MaxConcurrency: 4);

    [Fact]
    public void An_adaptive_agent_starts_at_its_initial_limit_whatever_its_callers_declare()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { InitialLimit = 3 });

        using var slot = Acquire(limiter, new AgentDef("coder", MaxConcurrency: 9));

        limiter.GetStatus().Agent("coder").Limit.Should().Be(3);
    }

    [Fact]
    public void Without_an_initial_limit_it_starts_at_the_static_limit_brought_within_its_bounds()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { MaxLimit = 6 }, options => options.AgentLimits["coder"] = 8);

        using var slot = Acquire(limiter, Coder);

        limiter.GetStatus().Agent("coder").Limit.Should().Be(6);
    }

    [Fact]
    public void A_later_caller_declaring_another_limit_does_not_move_an_adaptive_limit()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions());
        using var first = Acquire(limiter, Coder);

        using var second = Acquire(limiter, new AgentDef("coder", MaxConcurrency: 1));

        limiter.GetStatus().Agent("coder").Limit.Should().Be(4);
    }

    [Fact]
    public async Task An_overload_shrinks_the_limit_at_release_while_the_other_holders_keep_their_slots()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { BackoffRatio = 0.5 });
        var holders = Enumerable.Range(0, 4).Select(_ => Acquire(limiter, Coder)).ToList();
        var waiter = limiter.AcquireAsync(Coder).ShouldBeWaiting();

        holders[0].ReportOverload();
        holders[0].Dispose();

        var coder = limiter.GetStatus().Agent("coder");
        coder.Limit.Should().Be(2);
        coder.Active.Should().Be(3, "a lowered limit lets holders finish");
        holders.Skip(1).Should().AllSatisfy(slot => slot.IsHeld.Should().BeTrue());
        waiter.IsCompleted.Should().BeFalse("no room until the holders are below the new limit");

        holders[1].Dispose();
        waiter.IsCompleted.Should().BeFalse("3 - 1 = 2 holders still fill the limit of 2");
        holders[2].Dispose();
        await using var admitted = await waiter.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("coder").Active.Should().Be(2);
        holders[3].Dispose();
    }

    [Fact]
    public async Task Growth_admits_a_waiter_at_once()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { InitialLimit = 1, SuccessesPerIncrease = 1 });
        var holder = Acquire(limiter, Coder);
        var first = limiter.AcquireAsync(Coder).ShouldBeWaiting();
        var second = limiter.AcquireAsync(Coder).ShouldBeWaiting();

        holder.Dispose();

        // The release hands the freed slot to the first waiter and the success raises the limit to 2 for the second.
        await using var firstSlot = await first.WaitAsync(TestSupport.Bound);
        await using var secondSlot = await second.WaitAsync(TestSupport.Bound);
        limiter.GetStatus().Agent("coder").Limit.Should().Be(2);
    }

    [Fact]
    public void A_run_that_started_with_slots_free_does_not_grow_the_limit()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { InitialLimit = 2, SuccessesPerIncrease = 1 });

        Acquire(limiter, Coder).Dispose();

        limiter.GetStatus().Agent("coder").Limit.Should().Be(2);
    }

    [Fact]
    public async Task A_grant_returned_unused_is_no_run_to_learn_from()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions { InitialLimit = 1, SuccessesPerIncrease = 2 });
        using var adapter = limiter.AsRateLimiter(Coder);
        var holder = Acquire(limiter, Coder);
        var zeroPermits = adapter.AcquireAsync(0).AsTask();

        holder.Dispose(); // success 1 of 2; the zero-permit wait is admitted and hands its slot straight back
        using var lease = await zeroPermits.WaitAsync(TestSupport.Bound);

        lease.IsAcquired.Should().BeTrue();
        limiter.GetStatus().Agent("coder").Limit.Should().Be(1, "the handed-back grant ran nothing");
    }

    [Fact]
    public void A_disposed_limiter_reports_no_limits()
    {
        using var host = new TestHost();
        using var gauge = host.Collect<int>("agent_concurrency.limit");
        Acquire(host.Limiter, Coder).Dispose();

        host.Limiter.Dispose();
        gauge.RecordObservableInstruments();

        gauge.GetMeasurementSnapshot().Should().BeEmpty();
    }

    [Fact]
    public void An_agent_without_adaptive_options_ignores_overload_reports()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions());
        var reviewer = new AgentDef("reviewer", MaxConcurrency: 4);
        var slot = Acquire(limiter, reviewer);

        slot.ReportOverload();
        slot.Dispose();

        limiter.GetStatus().Agent("reviewer").Limit.Should().Be(4);
    }

    [Fact]
    public void A_stale_slot_cannot_mark_the_later_run_that_reuses_its_record()
    {
        using var limiter = CreateLimiter(new AdaptiveLimitOptions());
        var stale = Acquire(limiter, Coder);
        stale.Dispose();
        var current = Acquire(limiter, Coder);

        stale.ReportOverload();
        current.Dispose();

        limiter.GetStatus().Agent("coder").Limit.Should().Be(4, "the later run was not marked");
    }

    [Fact]
    public void What_an_agent_learned_survives_its_idle_gate_being_dropped()
    {
        var clock = new FakeTimeProvider();
        using var limiter = CreateLimiter(new AdaptiveLimitOptions(), options => options.IdleAgentTimeout = TimeSpan.FromMinutes(1), clock);
        var slot = Acquire(limiter, Coder);
        slot.ReportOverload();
        slot.Dispose();

        clock.Advance(TimeSpan.FromMinutes(2));
        limiter.GetStatus().Agents.Should().BeEmpty("the idle gate was dropped");

        using var again = Acquire(limiter, Coder);
        limiter.GetStatus().Agent("coder").Limit.Should().Be(3);
    }

    [Fact]
    public void Reloading_keeps_what_an_unchanged_entry_learned_and_restarts_a_changed_one_within_its_new_bounds()
    {
        var options = Options(new AdaptiveLimitOptions { InitialLimit = 8 });
        using var limiter = new AgentConcurrencyLimiter(options, new FakeTimeProvider());
        using var holder = Acquire(limiter, Coder);
        var overloaded = Acquire(limiter, Coder);
        overloaded.ReportOverload();
        overloaded.Dispose();
        limiter.GetStatus().Agent("coder").Limit.Should().Be(6);

        limiter.UpdateOptions(Options(new AdaptiveLimitOptions { InitialLimit = 8 }, o => o.MaxParallelRuns = 40));
        limiter.GetStatus().Agent("coder").Limit.Should().Be(6, "the entry did not change");

        limiter.UpdateOptions(Options(new AdaptiveLimitOptions { InitialLimit = 2, MaxLimit = 5 }));
        limiter.GetStatus().Agent("coder").Limit.Should().Be(5, "a changed entry starts from the limit in force, within its new bounds");

        limiter.UpdateOptions(Options(adaptive: null));
        limiter.GetStatus().Agent("coder").Limit.Should().Be(4, "without an entry the limit is static again");
    }

    [Fact]
    public void A_run_started_before_its_agent_turned_adaptive_does_not_teach_the_new_limit()
    {
        using var limiter = new AgentConcurrencyLimiter(Options(adaptive: null), new FakeTimeProvider());
        var startedStatic = Acquire(limiter, Coder);
        limiter.UpdateOptions(Options(new AdaptiveLimitOptions()));

        startedStatic.ReportOverload();
        startedStatic.Dispose();

        limiter.GetStatus().Agent("coder").Limit.Should().Be(4);
    }

    [Fact]
    public void The_limit_gauge_reports_every_agent_s_limit_as_it_moves()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:AdaptiveLimits:coder:InitialLimit"] = "8" });
        using var gauge = host.Collect<int>("agent_concurrency.limit");
        using var reviewer = Acquire(host.Limiter, new AgentDef("reviewer", MaxConcurrency: 2));
        var slot = Acquire(host.Limiter, Coder);

        gauge.RecordObservableInstruments();
        LimitsIn(gauge).Should().BeEquivalentTo(new Dictionary<string, int> { ["coder"] = 8, ["reviewer"] = 2 });

        slot.ReportOverload();
        slot.Dispose();
        gauge.RecordObservableInstruments();
        LimitsIn(gauge).Should().BeEquivalentTo(new Dictionary<string, int> { ["coder"] = 6, ["reviewer"] = 2 });
    }

    [Fact]
    public void A_change_of_more_than_one_step_logs_at_information_and_a_single_step_at_debug()
    {
        using var host = new TestHost(new Dictionary<string, string?>
        {
            ["AgentConcurrency:AdaptiveLimits:coder:InitialLimit"] = "8",
            ["AgentConcurrency:AdaptiveLimits:coder:SuccessesPerIncrease"] = "1",
        });
        var holders = Enumerable.Range(0, 7).Select(_ => Acquire(host.Limiter, Coder)).ToList();
        var overloaded = Acquire(host.Limiter, Coder);
        overloaded.ReportOverload();
        overloaded.Dispose(); // 8 -> 6
        holders.ForEach(static slot => slot.Dispose());
        var step = Enumerable.Range(0, 6).Select(_ => Acquire(host.Limiter, Coder)).ToList();
        step[^1].Dispose(); // took the last slot of 6 under the current limit: 6 -> 7

        var records = host.LimiterLogs().Where(static r => r.Id.Id is 9 or 10).ToList();
        records.Should().HaveCount(2);
        records[0].Id.Name.Should().Be("AdaptiveLimitChanged");
        records[0].Level.Should().Be(LogLevel.Information);
        records[0].Message.Should().Be("Agent 'coder' limit adapted from 8 to 6; 7 slots held.");
        records[1].Id.Name.Should().Be("AdaptiveLimitStepped");
        records[1].Level.Should().Be(LogLevel.Debug);
        records[1].Message.Should().Be("Agent 'coder' limit adapted from 6 to 7 by one step; 5 slots held.");
        step.ForEach(static slot => slot.Dispose());
    }

    private static Dictionary<string, int> LimitsIn(Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<int> gauge)
    {
        var latest = new Dictionary<string, int>();
        foreach (var measurement in gauge.GetMeasurementSnapshot())
        {
            latest[(string)measurement.Tags["agent_concurrency.agent"]!] = measurement.Value;
        }

        return latest;
    }

    private static AgentSlot Acquire(AgentConcurrencyLimiter limiter, AgentDef agent)
    {
        limiter.TryAcquire(agent, null, out var slot).Should().BeTrue($"a slot of {agent.Id} should be free");
        return slot;
    }

    private static AgentConcurrencyOptions Options(AdaptiveLimitOptions? adaptive, Action<AgentConcurrencyOptions>? configure = null)
    {
        var options = new AgentConcurrencyOptions();
        if (adaptive is not null)
        {
            options.AdaptiveLimits["coder"] = adaptive;
        }

        configure?.Invoke(options);
        return options;
    }

    private static AgentConcurrencyLimiter CreateLimiter(
        AdaptiveLimitOptions adaptive, Action<AgentConcurrencyOptions>? configure = null, TimeProvider? clock = null) =>
        new(Options(adaptive, configure), clock ?? new FakeTimeProvider());
}
