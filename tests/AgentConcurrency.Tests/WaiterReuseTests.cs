using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace AgentConcurrency.Tests;

/// <summary>
/// A queued request's waiter serves the next request its thread queues once the caller has taken the outcome, so a
/// hand-off allocates nothing. These pin what that must never cost: a misused ValueTask, a status snapshot, a blocking
/// caller or a late cancellation must not reach a waiter that now serves someone else.
/// </summary>
public class WaiterReuseTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HandOff_OnceWarm_AllocatesNothing(bool cancellableToken)
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var limiter = TestSupport.CreateUnobservedLimiter(services.GetRequiredService<IMeterFactory>());
        using var cancellation = new CancellationTokenSource();
        var token = cancellableToken ? cancellation.Token : CancellationToken.None;
        limiter.TryAcquire(TestSupport.Cookie, null, out var held).Should().BeTrue();

        // Warm: the waiter and the token's registration node exist, and everything on the path is compiled.
        held = HandOff(limiter, held, token, times: 100);
        var before = GC.GetAllocatedBytesForCurrentThread();
        held = HandOff(limiter, held, token, times: 1_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        allocated.Should().Be(0, "each hand-off reuses the waiter of the one before");
        held.IsHeld.Should().BeTrue();
        limiter.GetStatus().Agent(TestSupport.Cookie.Id).Should().Match<AgentStatus>(a => a.Active == 1 && a.Queued == 0);
    }

    [Fact]
    public async Task Result_TakenAgainAfterItsWaiterServesAnotherRequest_FailsThatMisuseAndLeavesTheOtherRequestAlone()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var held).Should().BeTrue();
        var first = limiter.AcquireAsync(TestSupport.Cookie);
        held.Dispose();

        // Completed by the release, so the await goes on at once, on this thread.
        var firstSlot = await first;

        // Same thread: this request gets the waiter the first one used.
        var second = limiter.AcquireAsync(TestSupport.Cookie);
        second.IsCompleted.Should().BeFalse();

        var takenAgain = async () => await first;

        await takenAgain.Should().ThrowAsync<InvalidOperationException>("a ValueTask's outcome can be taken once");
        second.IsCompleted.Should().BeFalse("the misuse must not touch the request the waiter serves now");
        limiter.GetStatus().Agent(TestSupport.Cookie.Id).Queued.Should().Be(1);
        firstSlot.Dispose();
        (await second.Within()).IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task StatusSnapshot_TakenWhileARequestWaited_StillDescribesThatRequestAfterItWasServed()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var held).Should().BeTrue();
        var first = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "first", Priority = 1 });
        var snapshot = limiter.GetStatus();
        held.Dispose();
        using var firstSlot = await first;

        // Same thread, and the gate is full again: this request would get the first one's waiter if the snapshot did not
        // keep it from being reused. The snapshot describes its requests only now, when they are read.
        var second = limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { SessionId = "second", Priority = 2 });
        second.IsCompleted.Should().BeFalse();

        snapshot.Agent(TestSupport.Cookie.Id).QueuedRequests.Should().ContainSingle()
            .Which.Should().Match<QueuedRequest>(request => request.SessionId == "first" && request.Priority == 1);
        limiter.GetStatus().Agent(TestSupport.Cookie.Id).QueuedRequests.Should().ContainSingle()
            .Which.SessionId.Should().Be("second");
    }

    [Fact]
    public async Task Result_BlockedOnBeforeTheGrant_ReturnsTheSlotOnceGranted()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Cookie, null, out var held).Should().BeTrue();
        var pending = limiter.AcquireAsync(TestSupport.Cookie);
        Thread? blockedThread = null;

        // A caller that blocks on the ValueTask, as it may on a task, rather than awaiting it.
        var blocked = Task.Factory.StartNew(
            () =>
            {
                Volatile.Write(ref blockedThread, Thread.CurrentThread);
                return pending.Result;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        SpinWait.SpinUntil(() => Volatile.Read(ref blockedThread) is { } thread && thread.ThreadState.HasFlag(ThreadState.WaitSleepJoin), TestSupport.Bound)
            .Should().BeTrue("the caller should be blocked on the pending request");
        held.Dispose();

        using var slot = await blocked.WaitAsync(TestSupport.Bound);
        slot.IsHeld.Should().BeTrue();
    }

    [Fact]
    public async Task ManyHandOffs_WithCancelsRacingTheGrants_EndEachRequestAsItsOwnTokenSaysAndDrain()
    {
        // Real threads and no queue timeout, so waiters are reused while cancels land around their grants: a late cancel
        // callback that reached a reused waiter would cancel a request whose own token was never cancelled. Reusing a
        // waiter whose callback had started failed this test in 4 runs of 5 on 2 cores, in about 2 s each.
        var agent = new AgentDef("busy", 2);
        using var limiter = new AgentConcurrencyLimiter(new AgentConcurrencyOptions(), TimeProvider.System);
        var violations = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var holders = 0;
        var grants = 0;

        var workers = Enumerable.Range(0, 8).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 20_000; i++)
            {
                using var cancellation = new CancellationTokenSource();
                var pending = limiter.AcquireAsync(agent, cancellation.Token);
                var canceller = random.Next(2) == 0 ? Task.Run(cancellation.Cancel) : Task.CompletedTask;
                try
                {
                    using var slot = await pending;
                    Interlocked.Increment(ref grants);
                    if (Interlocked.Increment(ref holders) > agent.MaxConcurrency)
                    {
                        violations.Enqueue("more holders than the limit");
                    }

                    await Task.Yield();
                    Interlocked.Decrement(ref holders);
                }
                catch (OperationCanceledException failure)
                {
                    if (failure.CancellationToken != cancellation.Token || !cancellation.IsCancellationRequested)
                    {
                        violations.Enqueue("cancelled without its own token being cancelled");
                    }
                }

                await canceller;
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        violations.Should().BeEmpty();
        grants.Should().BeGreaterThan(0);
        var status = limiter.GetStatus();
        status.Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.QueuedRequests == 0);
    }

    private static AgentSlot HandOff(AgentConcurrencyLimiter limiter, AgentSlot held, CancellationToken token, int times)
    {
        for (var i = 0; i < times; i++)
        {
            var next = limiter.AcquireAsync(TestSupport.Cookie, token);
            held.Dispose();

            // Completed by the release; no assertion library inside the measured loop, which would allocate.
            if (!next.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("The release did not hand the slot to the waiting request.");
            }

            held = next.Result;
        }

        return held;
    }
}
