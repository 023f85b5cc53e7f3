using AgentConcurrency.Benchmarks;
using BenchmarkDotNet.Running;

// `-- --retained-memory` runs scenario 7, a plain measurement; everything else is BenchmarkDotNet, e.g.
// `-- --filter '*Uncontended*'`, with `--job short` for a quick look.
if (args is ["--retained-memory"])
{
    await RetainedMemoryReport.RunAsync().ConfigureAwait(false);
    return;
}

if (args is [RetainedMemoryReport.MeasureOneArgument, var contender])
{
    await RetainedMemoryReport.MeasureOneAsync(contender).ConfigureAwait(false);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
