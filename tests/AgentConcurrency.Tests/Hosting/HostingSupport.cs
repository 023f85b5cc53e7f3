using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests.Hosting;

/// <summary>A container with the limiter registered from in-memory configuration, a fake clock, fake logs and real metrics.</summary>
internal sealed class TestHost : IDisposable
{
    public TestHost(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        Configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Clock);
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        services.AddMetrics();
        services.AddAgentConcurrency(Configuration.GetSection("AgentConcurrency"));
        configure?.Invoke(services);
        Services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public IConfigurationRoot Configuration { get; }

    public FakeTimeProvider Clock { get; } = new();

    public FakeLoggerProvider Logs { get; } = new();

    public ServiceProvider Services { get; }

    public AgentConcurrencyLimiter Limiter => Services.GetRequiredService<AgentConcurrencyLimiter>();

    /// <summary>Changes configuration values and raises the reload that a changed appsettings.json would.</summary>
    public void Reload(IDictionary<string, string?> changes)
    {
        foreach (var (key, value) in changes)
        {
            Configuration[key] = value;
        }

        try
        {
            Configuration.Reload();
        }
        catch (AggregateException failure) when (failure.InnerExceptions.All(static e => e is Microsoft.Extensions.Options.OptionsValidationException))
        {
            // IOptionsMonitor itself rethrows invalid options out of Reload (a file reload swallows it); the limiter's
            // own reaction is what the tests check.
        }
    }

    public MetricCollector<T> Collect<T>(string instrumentName)
        where T : struct =>
        new(Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "AgentConcurrency", instrumentName);

    /// <summary>The limiter's log records so far.</summary>
    public IReadOnlyList<FakeLogRecord> LimiterLogs() =>
        Logs.Collector.GetSnapshot().Where(static r => r.Category == typeof(AgentConcurrencyLimiter).FullName).ToList();

    public void Dispose() => Services.Dispose();
}
