namespace AgentConcurrency.Tests.Adaptive;

/// <summary>
/// Adaptive limits for real: many tasks on the thread pool, limits moving on almost every release, random overloads and
/// cancellations. Whatever the limits do, an agent never holds more slots than its maximum, every task finishes, and
/// every permit comes back.
/// </summary>
public sealed class AdaptiveStressTests
{
    private const int Workers = 16;
    private const int OperationsPerWorker = 400;
    private const int MaxLimit = 3;

    private static readonly AgentDef[] Agents = [new("aimd", 2), new("gradient", 2)];

    [Fact]
    public async Task Moving_limits_never_let_an_agent_exceed_its_maximum_and_give_every_permit_back()
    {
        var options = new AgentConcurrencyOptions { MaxParallelRuns = null, MaxParallelSessions = null };
        // Tiny windows and rounds, so that the limits move all the time while tasks acquire and release.
        options.AdaptiveLimits["aimd"] = new AdaptiveLimitOptions { MaxLimit = MaxLimit, SuccessesPerIncrease = 1, BackoffRatio = 0.5 };
        options.AdaptiveLimits["gradient"] = new AdaptiveLimitOptions
        {
            Algorithm = AdaptiveAlgorithm.Gradient, MaxLimit = MaxLimit, MinRoundSize = 1, BackoffRatio = 0.5,
        };
        using var limiter = new AgentConcurrencyLimiter(options, TimeProvider.System);
        var held = new int[Agents.Length];
        var mostHeld = new int[Agents.Length];
        var limitsSeen = new List<int>();

        async Task WorkAsync(int seed)
        {
            var random = new Random(seed);
            for (var operation = 0; operation < OperationsPerWorker; operation++)
            {
                var index = random.Next(Agents.Length);
                using var cancel = new CancellationTokenSource();
                if (random.Next(5) == 0)
                {
                    cancel.CancelAfter(random.Next(2));
                }

                AgentSlot slot;
                try
                {
                    slot = await limiter.AcquireAsync(Agents[index], cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    continue;
                }

                var now = Interlocked.Increment(ref held[index]);
                TestSupport.RaiseTo(ref mostHeld[index], now);
                await Task.Yield();
                if (random.Next(3) == 0)
                {
                    slot.ReportOverload();
                }

                Interlocked.Decrement(ref held[index]);
                slot.Dispose();
                if (operation % 50 == 0)
                {
                    var limits = limiter.GetStatus().Agents.Select(static agent => agent.Limit).ToList();
                    lock (limitsSeen)
                    {
                        limitsSeen.AddRange(limits);
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(seed => Task.Run(() => WorkAsync(seed)))).WaitAsync(TimeSpan.FromMinutes(1));

        mostHeld.Should().AllSatisfy(most => most.Should().BeInRange(1, MaxLimit));
        limitsSeen.Should().OnlyContain(limit => limit >= 1 && limit <= MaxLimit);
        limitsSeen.Distinct().Should().HaveCountGreaterThan(1, "the limits should have moved");
        var status = limiter.GetStatus();
        (status.ActiveRuns + status.QueuedRequests + status.Agents.Sum(static agent => agent.Active + agent.Queued)).Should().Be(0);
    }
}
