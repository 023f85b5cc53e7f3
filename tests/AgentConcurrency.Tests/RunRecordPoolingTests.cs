using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace AgentConcurrency.Tests;

/// <summary>
/// Run records are pooled by the gate of their agent, so that a released slot goes on naming what it was granted for
/// (the contract tests pin that). These pin what the pooling must still give: no allocation on the plain path, however
/// many agents take turns.
/// </summary>
public class RunRecordPoolingTests
{
    [Fact]
    public void PlainAcquireAndRelease_AcrossMoreAgentsThanThePoolCapKeepsExtras_OnceWarm_AllocatesNothing()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var limiter = TestSupport.CreateUnobservedLimiter(services.GetRequiredService<IMeterFactory>());
        var agents = Enumerable.Range(0, 1_000).Select(static i => new AgentDef($"agent-{i}", MaxConcurrency: 2)).ToArray();

        // Warm: every gate exists with a retired record, and everything on the path is compiled.
        TakeTurns(limiter, agents);
        var before = GC.GetAllocatedBytesForCurrentThread();
        TakeTurns(limiter, agents);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        allocated.Should().Be(0, "every gate keeps the record of its last run for its next one");
        limiter.GetStatus().ActiveRuns.Should().Be(0);
    }

    [Fact]
    public void RunsWithIds_GetRecordsOfTheirOwn_WhilePlainRunsOfTheSameAgentReuseTheirs()
    {
        using var limiter = TestSupport.CreateLimiter();
        limiter.TryAcquire(TestSupport.Pickle, null, out var plain).Should().BeTrue();
        plain.Dispose();
        limiter.TryAcquire(TestSupport.Pickle, new AcquireOptions { RunId = "r1" }, out var withId).Should().BeTrue();
        limiter.TryAcquire(TestSupport.Pickle, null, out var plainAgain).Should().BeTrue();

        withId.RunId.Should().Be("r1");
        plainAgain.RunId.Should().BeNull();
        plain.Should().Match<AgentSlot>(s => !s.IsHeld && s.RunId == null && s.AgentId == "pickle");
        withId.Dispose();
        plainAgain.Dispose();
        withId.Should().Match<AgentSlot>(s => !s.IsHeld && s.RunId == "r1");
    }

    /// <summary>Takes and releases a slot of each agent in turn; no assertion inside, which would allocate.</summary>
    private static void TakeTurns(AgentConcurrencyLimiter limiter, AgentDef[] agents)
    {
        foreach (var agent in agents)
        {
            if (!limiter.TryAcquire(agent, null, out var slot))
            {
                throw new InvalidOperationException($"{agent.Id} had no free slot.");
            }

            slot.Dispose();
        }
    }
}
