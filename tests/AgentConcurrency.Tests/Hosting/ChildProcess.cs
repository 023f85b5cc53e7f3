using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace AgentConcurrency.Tests.Hosting;

/// <summary>A program started as its own process (a sample, as a user would start it, or a test host), with its output captured line by line.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputSync = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _watches = [];

    private ChildProcess(string dllPath, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dllPath)!,
        };
        start.ArgumentList.Add(dllPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_outputSync)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the program whose built dll the test assembly names under <paramref name="metadataKey"/>.</summary>
    public static ChildProcess Start(string metadataKey, params string[] args)
    {
        var dllPath = typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == metadataKey).Value!;
        File.Exists(dllPath).Should().BeTrue($"the sample is built before the tests ({dllPath})");
        return new ChildProcess(Path.GetFullPath(dllPath), args);
    }

    /// <summary>Waits for the first output line that <paramref name="match"/> accepts, bounded.</summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan bound)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_outputSync)
        {
            var seen = _output.ToString().Split('\n').FirstOrDefault(line => match(line.TrimEnd('\r')));
            if (seen is not null)
            {
                return Task.FromResult(seen);
            }

            _watches.Add((match, found));
        }

        return found.Task.WaitAsync(bound);
    }

    public async Task<int> WaitForExitAsync(TimeSpan bound)
    {
        await _process.WaitForExitAsync().WaitAsync(bound);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once, as a crash would end it: nothing it holds is handed back.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputSync)
        {
            _output.AppendLine(line);
            foreach (var watch in _watches.Where(w => w.Match(line)).ToList())
            {
                _watches.Remove(watch);
                watch.Found.TrySetResult(line);
            }
        }
    }
}
