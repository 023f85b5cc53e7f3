using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AgentConcurrency.Tests.Redis;

/// <summary>
/// A redis-server of a test's own, on a free loopback port, without persistence: restarting it loses every key, as a
/// Redis without persistence does when it restarts. Skips the test where redis-server is not installed.
/// </summary>
internal sealed class PrivateRedisServer : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private readonly int _port;
    private Process _process;

    private PrivateRedisServer(int port)
    {
        _port = port;
        _process = Launch(port);
    }

    public string Configuration => $"127.0.0.1:{_port}";

    public static PrivateRedisServer Start()
    {
        var installed = Environment.GetEnvironmentVariable("PATH")!.Split(Path.PathSeparator).Any(dir => File.Exists(Path.Combine(dir, "redis-server")));
        Skip.IfNot(installed, "redis-server is not installed; .ci/run installs it.");
        return new PrivateRedisServer(FreePort());
    }

    /// <summary>Stops the server and starts an empty one on the same port.</summary>
    public void Restart()
    {
        Stop();
        _process = Launch(_port);
    }

    public void Dispose() => Stop();

    private static Process Launch(int port)
    {
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        ready.Task.Wait(Bound).Should().BeTrue("redis-server should start");
        return process;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
