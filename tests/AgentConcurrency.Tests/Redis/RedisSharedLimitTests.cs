using System.Diagnostics;
using AgentConcurrency.Redis;

namespace AgentConcurrency.Tests.Redis;

/// <summary>Several instances ("processes", each with its own connection) sharing one set of limits through Redis.</summary>
public sealed class RedisSharedLimitTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private static readonly AgentDef Gpu = new("gpu", MaxConcurrency: 2);
    private readonly RedisLimiterFixture _fixture = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _fixture.DisposeAsync().AsTask();

    [SkippableFact]
    public async Task Instances_share_one_agent_limit()
    {
        var first = _fixture.NewInstance();
        var second = _fixture.NewInstance();
        await using var a = await first.AcquireAsync(Gpu);
        var b = await first.AcquireAsync(Gpu);

        second.TryAcquire(Gpu, null, out _).Should().BeFalse("the other instance holds both slots");
        await b.DisposeAsync();

        second.TryAcquire(Gpu, null, out var taken).Should().BeTrue();
        await taken.DisposeAsync();
        second.GetStatus().Agents.Single().Active.Should().Be(1, "both instances see the one count");
    }

    [SkippableFact]
    public async Task A_release_in_one_instance_wakes_the_waiter_of_another()
    {
        var holder = _fixture.NewInstance();
        var waiter = _fixture.NewInstance();
        var held = new[] { await holder.AcquireAsync(Gpu), await holder.AcquireAsync(Gpu) };
        var waiting = await waiter.EnqueueAsync(Gpu, new AcquireOptions { RunId = "waiting" });

        await held[0].DisposeAsync();

        await using var granted = await waiting.WaitAsync(Bound);
        granted.RunId.Should().Be("waiting");
        await held[1].DisposeAsync();
    }

    [SkippableFact]
    public async Task Waiters_of_all_instances_are_served_in_one_priority_then_arrival_order()
    {
        var instances = new[] { _fixture.NewInstance(), _fixture.NewInstance(), _fixture.NewInstance() };
        var solo = new AgentDef("solo", MaxConcurrency: 1);
        var holder = await instances[0].AcquireAsync(solo);
        var first = await instances[1].EnqueueAsync(solo, new AcquireOptions { RunId = "first" });
        var second = await instances[2].EnqueueAsync(solo, new AcquireOptions { RunId = "second" });
        var urgent = await instances[0].EnqueueAsync(solo, new AcquireOptions { RunId = "urgent", Priority = 1 });
        var third = await instances[0].EnqueueAsync(solo, new AcquireOptions { RunId = "third" });

        var order = new List<string?>();
        await holder.DisposeAsync();
        foreach (var next in new[] { urgent, first, second, third })
        {
            var slot = await next.WaitAsync(Bound);
            order.Add(slot.RunId);
            await slot.DisposeAsync();
        }

        order.Should().Equal("urgent", "first", "second", "third");
    }

    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_storm_over_several_instances_never_exceeds_a_limit(int instanceCount)
    {
        var options = new AgentConcurrencyOptions { MaxParallelRuns = 4, MaxConcurrencyPerSource = 3 };
        var instances = Enumerable.Range(0, instanceCount).Select(_ => _fixture.NewInstance(options)).ToList();
        var agents = new[] { new AgentDef("x", MaxConcurrency: 2), new AgentDef("y", MaxConcurrency: 3) };
        var inFlight = new int[agents.Length];
        var peaks = new int[agents.Length];
        var total = 0;
        var totalPeak = 0;
        var sourceInFlight = 0;
        var sourcePeak = 0;

        var callers = instances.SelectMany((limiter, i) => Enumerable.Range(0, 6).Select(caller => Task.Run(async () =>
        {
            var random = new Random((i * 100) + caller);
            for (var n = 0; n < 20; n++)
            {
                var which = random.Next(agents.Length);
                var source = random.Next(2) == 0 ? "shared" : null;
                using var cancel = new CancellationTokenSource();
                if (random.Next(10) == 0)
                {
                    cancel.CancelAfter(random.Next(5));
                }

                AgentSlot slot;
                try
                {
                    slot = await limiter.AcquireAsync(agents[which], new AcquireOptions { Source = source, Priority = random.Next(3) }, cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    continue;
                }

                TestSupport.RaiseTo(ref peaks[which], Interlocked.Increment(ref inFlight[which]));
                TestSupport.RaiseTo(ref totalPeak, Interlocked.Increment(ref total));
                if (source is not null)
                {
                    TestSupport.RaiseTo(ref sourcePeak, Interlocked.Increment(ref sourceInFlight));
                }

                await Task.Delay(random.Next(3));
                if (source is not null)
                {
                    Interlocked.Decrement(ref sourceInFlight);
                }

                Interlocked.Decrement(ref total);
                Interlocked.Decrement(ref inFlight[which]);
                await slot.DisposeAsync();
            }
        })));
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));

        peaks[0].Should().BeInRange(1, 2);
        peaks[1].Should().BeInRange(1, 3);
        totalPeak.Should().BeInRange(1, 4);
        sourcePeak.Should().BeInRange(1, 3);
        var status = instances[0].GetStatus();
        status.ActiveRuns.Should().Be(0, "every permit came back");
        status.QueuedRequests.Should().Be(0, "no queue place was left behind");
    }

    [SkippableFact]
    public async Task A_crashed_instance_frees_its_slots_when_its_lease_expires_and_its_slots_say_they_are_lost()
    {
        // 5 s, not 1 s: under the full suite on 2 cores a 1 s lease can lapse between renewals of a live instance.
        var leaseTtl = TimeSpan.FromSeconds(5);
        var crashing = _fixture.NewInstance(out var crashingConnection, leaseTtl: leaseTtl);
        var survivor = _fixture.NewInstance(leaseTtl: leaseTtl);
        var held = await crashing.AcquireAsync(Gpu);
        await using var other = await crashing.AcquireAsync(Gpu);
        var waiting = await survivor.EnqueueAsync(Gpu, new AcquireOptions { RunId = "after-crash" });
        var clock = Stopwatch.StartNew();

        // The process "dies": its connection goes, and nothing is handed back.
        await crashingConnection.DisposeAsync();

        await using var granted = await waiting.WaitAsync(Bound);
        clock.Elapsed.Should().BeGreaterThan(leaseTtl * 0.5, "the slots come back only once the lease expired");
        await Task.Delay(Timeout.Infinite, held.LostToken).ContinueWith(static _ => { }, TaskScheduler.Default).WaitAsync(Bound);
        held.IsHeld.Should().BeFalse();
        survivor.GetStatus().Agents.Single().Active.Should().Be(1, "only the survivor's grant is left");
    }

    [SkippableFact]
    public async Task Disposing_an_instance_hands_its_slots_back_at_once()
    {
        var leaving = _fixture.NewInstance();
        var staying = _fixture.NewInstance();
        var slot = await leaving.AcquireAsync(Gpu);
        await using var second = await staying.AcquireAsync(Gpu);
        var waiting = await staying.EnqueueAsync(Gpu, new AcquireOptions { RunId = "next" });

        await leaving.DisposeAsync();

        await using var granted = await waiting.WaitAsync(Bound);
        slot.IsHeld.Should().BeFalse();
        slot.LostToken.IsCancellationRequested.Should().BeTrue();
    }

    [SkippableFact]
    public async Task A_run_released_by_id_in_another_instance_tells_its_holder()
    {
        var holder = _fixture.NewInstance(leaseTtl: TimeSpan.FromSeconds(1));
        var other = _fixture.NewInstance();
        var slot = await holder.AcquireAsync(Gpu, new AcquireOptions { RunId = "r1" });
        var lost = slot.LostToken;

        other.ReleaseRunSlot("r1");
        await holder.BeatAsync();

        lost.IsCancellationRequested.Should().BeTrue();
        slot.IsHeld.Should().BeFalse();
    }

    [SkippableFact]
    public async Task A_session_pinned_by_two_instances_stays_pinned_while_either_holds_it()
    {
        var first = _fixture.NewInstance();
        var second = _fixture.NewInstance();
        first.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();
        second.TryAcquireSessionSlot("s1").Succeeded.Should().BeTrue();

        await second.DisposeAsync();

        first.GetStatus().ActiveSessions.Should().Be(1, "the first instance still pins the session");
        await first.DisposeAsync();
        _fixture.NewInstance().GetStatus().ActiveSessions.Should().Be(0);
    }

    [SkippableFact]
    public async Task A_run_id_taken_by_a_waiter_when_an_expired_instance_is_reaped_is_a_conflict_not_a_second_run()
    {
        // Frozen clocks: no heartbeat reaps behind the test's back, so the acquire below is what reaps the dead instance.
        var dead = _fixture.NewInstance(timeProvider: new Microsoft.Extensions.Time.Testing.FakeTimeProvider());
        var waiter = _fixture.NewInstance(timeProvider: new Microsoft.Extensions.Time.Testing.FakeTimeProvider());
        var asker = _fixture.NewInstance();
        var x = new AgentDef("x", MaxConcurrency: 1);
        var y = new AgentDef("y", MaxConcurrency: 1);
        _ = await dead.AcquireAsync(x);
        _ = await dead.AcquireAsync(y);
        var waiting = await waiter.EnqueueAsync(y, new AcquireOptions { RunId = "R" });

        await RedisTestServer.Connection.GetDatabase().KeyDeleteAsync(_fixture.Prefix + "lease:" + dead.OwnerId);

        FluentActions.Invoking(() => asker.TryAcquire(x, new AcquireOptions { RunId = "R" }, out _))
            .Should().Throw<ArgumentException>("reaping the dead instance granted run R to the waiter for agent y");
        await using var granted = await waiting.WaitAsync(Bound);
        var agents = asker.GetStatus().Agents;
        agents.Single(a => a.AgentId == "y").Active.Should().Be(1);
        agents.Where(a => a.AgentId == "x").Sum(a => a.Active).Should().Be(0);
    }
}
