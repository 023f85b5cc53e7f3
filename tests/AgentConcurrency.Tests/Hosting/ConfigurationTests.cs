using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentConcurrency.Tests.Hosting;

public class ConfigurationTests
{
    [Fact]
    public void Every_option_binds_from_keys_that_mirror_its_name()
    {
        using var host = new TestHost(new Dictionary<string, string?>
        {
            ["AgentConcurrency:MaxParallelSessions"] = "11",
            ["AgentConcurrency:MaxParallelRuns"] = "3",
            ["AgentConcurrency:MaxConcurrencyPerSource"] = "2",
            ["AgentConcurrency:AgentLimits:cookie"] = "1",
            ["AgentConcurrency:AgentLimits:pickle"] = "3",
            ["AgentConcurrency:WhenFull"] = "Reject",
            ["AgentConcurrency:QueueLimit"] = "5",
            ["AgentConcurrency:QueueTimeout"] = "00:00:30",
            ["AgentConcurrency:IdleAgentTimeout"] = "00:10:00",
        });

        var options = host.Services.GetRequiredService<IOptions<AgentConcurrencyOptions>>().Value;

        options.MaxParallelSessions.Should().Be(11);
        options.MaxParallelRuns.Should().Be(3);
        options.MaxConcurrencyPerSource.Should().Be(2);
        options.AgentLimits.Should().BeEquivalentTo(new Dictionary<string, int> { ["cookie"] = 1, ["pickle"] = 3 });
        options.WhenFull.Should().Be(QueueFullMode.Reject);
        options.QueueLimit.Should().Be(5);
        options.QueueTimeout.Should().Be(TimeSpan.FromSeconds(30));
        options.IdleAgentTimeout.Should().Be(TimeSpan.FromMinutes(10));
    }

    [Fact]
    public void Adaptive_limits_bind_per_agent_id_from_keys_that_mirror_their_names()
    {
        using var host = new TestHost(new Dictionary<string, string?>
        {
            ["AgentConcurrency:AdaptiveLimits:coder:MinLimit"] = "2",
            ["AgentConcurrency:AdaptiveLimits:coder:MaxLimit"] = "12",
            ["AgentConcurrency:AdaptiveLimits:coder:InitialLimit"] = "5",
            ["AgentConcurrency:AdaptiveLimits:coder:Algorithm"] = "Gradient",
            ["AgentConcurrency:AdaptiveLimits:coder:BackoffRatio"] = "0.5",
            ["AgentConcurrency:AdaptiveLimits:coder:SuccessesPerIncrease"] = "20",
            ["AgentConcurrency:AdaptiveLimits:coder:Tolerance"] = "2",
            ["AgentConcurrency:AdaptiveLimits:coder:MinRoundSize"] = "3",
            ["AgentConcurrency:AdaptiveLimits:reviewer:MaxLimit"] = "4",
        });

        var adaptive = host.Services.GetRequiredService<IOptions<AgentConcurrencyOptions>>().Value.AdaptiveLimits;

        adaptive.Keys.Should().BeEquivalentTo("coder", "reviewer");
        adaptive["coder"].Should().BeEquivalentTo(new AdaptiveLimitOptions
        {
            MinLimit = 2, MaxLimit = 12, InitialLimit = 5, Algorithm = AdaptiveAlgorithm.Gradient, BackoffRatio = 0.5,
            SuccessesPerIncrease = 20, Tolerance = 2, MinRoundSize = 3,
        });
        adaptive["reviewer"].Should().BeEquivalentTo(new AdaptiveLimitOptions { MaxLimit = 4 }, "unset keys keep their defaults");
        host.Limiter.TryAcquire(new AgentDef("coder", MaxConcurrency: 1), null, out var slot).Should().BeTrue();
        using (slot)
        {
            host.Limiter.GetStatus().Agent("coder").Limit.Should().Be(5, "the bound initial limit wins over MaxConcurrency");
        }
    }

    [Fact]
    public void An_empty_value_means_no_limit_and_minus_one_millisecond_means_infinite()
    {
        using var host = new TestHost(new Dictionary<string, string?>
        {
            ["AgentConcurrency:MaxParallelSessions"] = "",
            ["AgentConcurrency:MaxParallelRuns"] = "",
            ["AgentConcurrency:QueueLimit"] = "",
            ["AgentConcurrency:QueueTimeout"] = "-00:00:00.001",
            ["AgentConcurrency:IdleAgentTimeout"] = "-00:00:00.001",
        });

        var status = host.Limiter.GetStatus();

        status.MaxParallelSessions.Should().BeNull();
        status.MaxParallelRuns.Should().BeNull();
        var options = host.Services.GetRequiredService<IOptions<AgentConcurrencyOptions>>().Value;
        options.QueueTimeout.Should().Be(Timeout.InfiniteTimeSpan);
        options.IdleAgentTimeout.Should().Be(Timeout.InfiniteTimeSpan);
    }

    [Fact]
    public void A_json_null_means_no_limit()
    {
        using var json = new MemoryStream("""{ "AgentConcurrency": { "MaxParallelRuns": null, "MaxParallelSessions": 7 } }"""u8.ToArray());
        var configuration = new ConfigurationBuilder().AddJsonStream(json).Build();
        var services = new ServiceCollection();
        services.AddAgentConcurrency(configuration.GetSection("AgentConcurrency"));
        using var provider = services.BuildServiceProvider();

        var status = provider.GetRequiredService<AgentConcurrencyLimiter>().GetStatus();

        status.MaxParallelRuns.Should().BeNull();
        status.MaxParallelSessions.Should().Be(7);
    }

    [Fact]
    public async Task The_limiter_enforces_the_bound_limits()
    {
        using var host = new TestHost(new Dictionary<string, string?>
        {
            ["AgentConcurrency:AgentLimits:cookie"] = "1",
            ["AgentConcurrency:WhenFull"] = "Reject",
        });
        var cookie = new AgentDef("cookie", MaxConcurrency: 5);
        await using var first = await host.Limiter.AcquireAsync(cookie).Within();

        var second = async () => await host.Limiter.AcquireAsync(cookie);

        (await second.Should().ThrowAsync<ConcurrencyLimitExceededException>()).Which.ErrorCode.Should().Be(ConcurrencyErrorCode.AgentLimitReached);
    }

    [Theory]
    [InlineData("MaxParallelRuns", "0", "AgentConcurrency:MaxParallelRuns must be at least 1, was 0.")]
    [InlineData("MaxParallelSessions", "-1", "AgentConcurrency:MaxParallelSessions must be at least 1, was -1.")]
    [InlineData("MaxConcurrencyPerSource", "0", "AgentConcurrency:MaxConcurrencyPerSource must be at least 1, was 0.")]
    [InlineData("QueueLimit", "-1", "AgentConcurrency:QueueLimit must be at least 0, was -1.")]
    [InlineData("AgentLimits:cookie", "0", "AgentConcurrency:AgentLimits:cookie must be at least 1, was 0.")]
    [InlineData("WhenFull", "7", "AgentConcurrency:WhenFull must be Wait or Reject, was 7.")]
    [InlineData("QueueTimeout", "-00:00:01", "AgentConcurrency:QueueTimeout must be zero or more and at most 49.7 days, or infinite, was -00:00:01.")]
    [InlineData("QueueTimeout", "60.00:00:00", "AgentConcurrency:QueueTimeout must be zero or more and at most 49.7 days, or infinite, was 60.00:00:00.")]
    [InlineData("IdleAgentTimeout", "00:00:00", "AgentConcurrency:IdleAgentTimeout must be positive, or infinite, was 00:00:00.")]
    [InlineData("AdaptiveLimits:coder:MinLimit", "0", "AgentConcurrency:AdaptiveLimits:coder:MinLimit must be at least 1, was 0.")]
    [InlineData("AdaptiveLimits:coder:MaxLimit", "0", "AgentConcurrency:AdaptiveLimits:coder:MaxLimit must be at least MinLimit (1), was 0.")]
    [InlineData("AdaptiveLimits:coder:InitialLimit", "65", "AgentConcurrency:AdaptiveLimits:coder:InitialLimit must be within MinLimit and MaxLimit (1 to 64), or unset, was 65.")]
    [InlineData("AdaptiveLimits:coder:Algorithm", "9", "AgentConcurrency:AdaptiveLimits:coder:Algorithm must be Aimd or Gradient, was 9.")]
    [InlineData("AdaptiveLimits:coder:BackoffRatio", "1", "AgentConcurrency:AdaptiveLimits:coder:BackoffRatio must be greater than 0 and less than 1, was 1.")]
    [InlineData("AdaptiveLimits:coder:SuccessesPerIncrease", "0", "AgentConcurrency:AdaptiveLimits:coder:SuccessesPerIncrease must be at least 1, was 0.")]
    [InlineData("AdaptiveLimits:coder:Tolerance", "1", "AgentConcurrency:AdaptiveLimits:coder:Tolerance must be greater than 1 and finite, was 1.")]
    [InlineData("AdaptiveLimits:coder:MinRoundSize", "0", "AgentConcurrency:AdaptiveLimits:coder:MinRoundSize must be at least 1, was 0.")]
    public async Task A_host_with_a_bad_option_fails_at_start_naming_the_key_the_rule_and_the_value(string key, string value, string message)
    {
        using var host = BuildHost("AgentConcurrency", new Dictionary<string, string?> { ["AgentConcurrency:" + key] = value });

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Failures.Should().Equal(message);
    }

    [Fact]
    public async Task Every_bad_option_is_named_in_one_failure()
    {
        using var host = BuildHost("AgentConcurrency", new Dictionary<string, string?>
        {
            ["AgentConcurrency:MaxParallelRuns"] = "0",
            ["AgentConcurrency:AgentLimits:cookie"] = "-2",
        });

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Failures.Should().BeEquivalentTo(
            "AgentConcurrency:MaxParallelRuns must be at least 1, was 0.", "AgentConcurrency:AgentLimits:cookie must be at least 1, was -2.");
    }

    [Fact]
    public async Task Messages_name_the_keys_of_the_section_actually_bound()
    {
        using var host = BuildHost("Limits:Agents", new Dictionary<string, string?> { ["Limits:Agents:MaxParallelRuns"] = "0" });

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Failures.Should().Equal("Limits:Agents:MaxParallelRuns must be at least 1, was 0.");
    }

    [Fact]
    public async Task A_value_that_cannot_be_read_fails_at_start_naming_the_key()
    {
        using var host = BuildHost("AgentConcurrency", new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "many" });

        var start = () => host.StartAsync();

        await start.Should().ThrowAsync<InvalidOperationException>().WithMessage("*AgentConcurrency:MaxParallelRuns*");
    }

    [Fact]
    public async Task A_host_with_good_options_starts_and_serves_the_limiter()
    {
        using var host = BuildHost("AgentConcurrency", new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "3" });

        await host.StartAsync().WaitAsync(TestSupport.Bound);

        host.Services.GetRequiredService<IAgentConcurrencyLimiter>().GetStatus().MaxParallelRuns.Should().Be(3);
        await host.StopAsync().WaitAsync(TestSupport.Bound);
    }

    private static IHost BuildHost(string sectionPath, Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddAgentConcurrency(builder.Configuration.GetSection(sectionPath));
        return builder.Build();
    }
}
