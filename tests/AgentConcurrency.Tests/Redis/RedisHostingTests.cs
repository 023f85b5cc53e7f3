using AgentConcurrency.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentConcurrency.Tests.Redis;

/// <summary><c>UseRedis</c> in a host: registration, validation at start, and the health check.</summary>
public sealed class RedisHostingTests
{
    [SkippableFact]
    public async Task UseRedis_serves_the_limiter_interface_from_Redis_with_the_registered_agents()
    {
        _ = RedisTestServer.Connection;
        var prefix = RedisTestServer.UniquePrefix();
        using var host = Build(builder => builder.Services
            .AddAgentConcurrency(options => options.AgentLimits["coder"] = 3)
            .AddAgent(new AgentDef("coder", MaxConcurrency: 1))
            .UseRedis(RedisTestServer.Configuration, options => options.KeyPrefix = prefix));
        await host.StartAsync();

        var limiter = host.Services.GetRequiredService<IAgentConcurrencyLimiter>();

        limiter.Should().BeOfType<RedisAgentConcurrencyLimiter>();
        limiter.GetStatus().Agents.Should().ContainSingle(agent => agent.AgentId == "coder" && agent.Limit == 3 && agent.Active == 0);
        await using var slot = await limiter.AcquireAsync(new AgentDef("coder", MaxConcurrency: 1));
        limiter.GetStatus().Agents.Single().Active.Should().Be(1);
        await host.StopAsync();
    }

    [SkippableFact]
    public async Task UseRedis_on_an_existing_connection_leaves_it_open_when_the_host_stops()
    {
        var connection = RedisTestServer.Connection;
        using (var host = Build(builder => builder.Services.AddAgentConcurrency().UseRedis(connection, options => options.KeyPrefix = RedisTestServer.UniquePrefix())))
        {
            await host.StartAsync();
            host.Services.GetRequiredService<IAgentConcurrencyLimiter>().TryAcquire(new AgentDef("a", 1), null, out _).Should().BeTrue();
            await host.StopAsync();
        }

        connection.IsConnected.Should().BeTrue();
    }

    [Fact]
    public void Asking_for_the_in_process_limiter_class_after_UseRedis_fails_instead_of_splitting_the_limits()
    {
        using var host = Build(builder => builder.Services.AddAgentConcurrency().UseRedis("127.0.0.1:1,connectTimeout=300"));

        FluentActions.Invoking(() => host.Services.GetRequiredService<AgentConcurrencyLimiter>())
            .Should().Throw<InvalidOperationException>().WithMessage("*IAgentConcurrencyLimiter*");
    }

    [Fact]
    public async Task Invalid_Redis_options_fail_the_host_at_start_naming_the_option()
    {
        using var host = Build(builder => builder.Services.AddAgentConcurrency().UseRedis("127.0.0.1:1", options => options.LeaseTtl = TimeSpan.FromMilliseconds(10)));

        var thrown = await FluentActions.Awaiting(() => host.StartAsync()).Should().ThrowAsync<OptionsValidationException>();

        thrown.Which.Message.Should().Contain("LeaseTtl");
    }

    [Fact]
    public async Task Adaptive_limits_with_UseRedis_fail_the_host_at_start()
    {
        using var host = Build(builder => builder.Services
            .AddAgentConcurrency(options => options.AdaptiveLimits["coder"] = new AdaptiveLimitOptions())
            .UseRedis("127.0.0.1:1"));

        var thrown = await FluentActions.Awaiting(() => host.StartAsync()).Should().ThrowAsync<OptionsValidationException>();

        thrown.Which.Message.Should().Contain("AdaptiveLimits");
    }

    [Fact]
    public void UseRedis_refuses_a_blank_configuration()
    {
        var services = new ServiceCollection();

        FluentActions.Invoking(() => services.AddAgentConcurrency().UseRedis(" ")).Should().Throw<ArgumentException>().WithParameterName("configuration");
        FluentActions.Invoking(() => services.AddAgentConcurrency().UseRedis((StackExchange.Redis.IConnectionMultiplexer)null!))
            .Should().Throw<ArgumentNullException>().WithParameterName("connection");
    }

    [SkippableFact]
    public async Task The_health_check_is_healthy_while_Redis_answers()
    {
        _ = RedisTestServer.Connection;
        using var host = Build(builder =>
        {
            builder.Services.AddAgentConcurrency().UseRedis(RedisTestServer.Configuration, options => options.KeyPrefix = RedisTestServer.UniquePrefix());
            builder.Services.AddHealthChecks().AddAgentConcurrencyRedis();
        });
        await host.StartAsync();

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries["agent-concurrency-redis"].Status.Should().Be(HealthStatus.Healthy);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_health_check_reports_a_Redis_that_cannot_be_reached()
    {
        using var host = Build(builder =>
        {
            builder.Services.AddAgentConcurrency().UseRedis("127.0.0.1:1,connectTimeout=300");
            builder.Services.AddHealthChecks().AddAgentConcurrencyRedis(failureStatus: HealthStatus.Degraded, tags: ["ready"]);
        });
        await host.StartAsync();

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["agent-concurrency-redis"];
        entry.Status.Should().Be(HealthStatus.Degraded);
        entry.Description.Should().Contain("cannot be reached");
        entry.Tags.Should().Contain("ready");
        await host.StopAsync();
    }

    private static IHost Build(Action<HostApplicationBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        configure(builder);
        return builder.Build();
    }
}
