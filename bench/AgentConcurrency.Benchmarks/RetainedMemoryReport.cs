using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Polly;
using Polly.Registry;

namespace AgentConcurrency.Benchmarks;

/// <summary>
/// Scenario 7: managed memory retained after 100,000 distinct agents each took and released one slot and then stayed
/// idle past each contender's idle cleanup. BenchmarkDotNet measures time and allocation, not what stays reachable, so
/// this is a plain measurement: the managed heap after a full collection, before and after.
/// </summary>
internal static class RetainedMemoryReport
{
    private const int AgentCount = 100_000;

    // Ours is told to drop gates after 100 ms; PartitionedRateLimiter drops a partition idle for more than 10 s (fixed).
    private static readonly TimeSpan OurIdleTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan PartitionIdleTimeout = TimeSpan.FromSeconds(10);

    private static readonly string[] ContenderNames = ["semaphores", "partitioned", "polly", "ours"];

    /// <summary>Prints the table, measuring each contender in a process of its own so that none inherits another's heap.</summary>
    public static async Task RunAsync()
    {
        Console.WriteLine($"Retained memory after {AgentCount:N0} agents used once and left idle (managed heap after a full GC)");
        Console.WriteLine();
        Console.WriteLine("| Contender | Empty | After use | After idle cleanup | Retained over empty | Share of the growth still held |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var name in ContenderNames)
        {
            using var child = Process.Start(new ProcessStartInfo(Environment.ProcessPath!, [MeasureOneArgument, name]))!;
            await child.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The argument that makes this program measure one contender and print its row.</summary>
    public const string MeasureOneArgument = "--retained-memory-of";

    /// <summary>Measures one contender, named as in <see cref="ContenderNames"/>, and prints its row.</summary>
    public static Task MeasureOneAsync(string name)
    {
        var agents = Enumerable.Range(0, AgentCount).Select(static i => new AgentDef($"agent-{i}", 2)).ToArray();
        return name switch
        {
            "semaphores" => MeasureAsync(
                "ConcurrentDictionary of SemaphoreSlim (no cleanup)",
                () => new ConcurrentDictionary<string, SemaphoreSlim>(StringComparer.Ordinal),
                async semaphores =>
                {
                    foreach (var agent in agents)
                    {
                        var semaphore = semaphores.GetOrAdd(agent.Id, static (_, limit) => new SemaphoreSlim(limit, limit), agent.MaxConcurrency);
                        await semaphore.WaitAsync().ConfigureAwait(false);
                        semaphore.Release();
                    }
                },
                TimeSpan.Zero),
            "partitioned" => MeasureAsync(
                "PartitionedRateLimiter (drops partitions idle > 10 s)",
                Contenders.PartitionPerAgent,
                async limiter =>
                {
                    foreach (var agent in agents)
                    {
                        using var lease = await limiter.AcquireAsync(agent).ConfigureAwait(false);
                    }
                },
                PartitionIdleTimeout + TimeSpan.FromSeconds(1)),
            "polly" => MeasureAsync(
                "Polly registry, a pipeline per agent (no cleanup)",
                () => new ResiliencePipelineRegistry<string>(),
                async registry =>
                {
                    foreach (var agent in agents)
                    {
                        var pipeline = registry.GetOrAddPipeline(agent.Id, static (builder, _) => builder.AddConcurrencyLimiter(2, int.MaxValue));
                        await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask).ConfigureAwait(false);
                    }
                },
                TimeSpan.Zero),
            "ours" => MeasureAsync(
                "AgentConcurrencyLimiter (IdleAgentTimeout 100 ms)",
                () => new AgentConcurrencyLimiter(new AgentConcurrencyOptions { IdleAgentTimeout = OurIdleTimeout }),
                async limiter =>
                {
                    foreach (var agent in agents)
                    {
                        var slot = await limiter.AcquireAsync(agent).ConfigureAwait(false);
                        slot.Dispose();
                    }
                },
                // A gate goes after more than the timeout and at most a quarter more; wait well past both.
                OurIdleTimeout * 3),
            _ => throw new ArgumentException($"No contender '{name}'; expected one of {string.Join(", ", ContenderNames)}.", nameof(name)),
        };
    }

    private static async Task MeasureAsync<T>(string name, Func<T> create, Func<T, Task> use, TimeSpan idle)
    {
        var contender = create();
        var empty = HeapAfterFullCollection();
        await use(contender).ConfigureAwait(false);
        var afterUse = HeapAfterFullCollection();
        await Task.Delay(idle).ConfigureAwait(false);
        var afterIdle = HeapAfterFullCollection();
        GC.KeepAlive(contender);
        (contender as IDisposable)?.Dispose();
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"| {name} | {Kilobytes(empty)} | {Kilobytes(afterUse)} | {Kilobytes(afterIdle)} | {Kilobytes(afterIdle - empty)} | {(double)(afterIdle - empty) / (afterUse - empty):P1} |"));
    }

    private static long HeapAfterFullCollection()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string Kilobytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:N0} KB");
}
