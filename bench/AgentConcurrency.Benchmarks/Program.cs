using BenchmarkDotNet.Running;

// Pick suites with --filter, e.g. `-- --filter '*Uncontended*'`; `--job short` for a quick look.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
