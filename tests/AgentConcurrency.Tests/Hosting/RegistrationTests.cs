using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentConcurrency.Tests.Hosting;

public class RegistrationTests
{
    [Fact]
    public void One_singleton_serves_the_class_and_the_interface()
    {
        using var host = new TestHost();

        var limiter = host.Services.GetRequiredService<AgentConcurrencyLimiter>();

        host.Services.GetRequiredService<IAgentConcurrencyLimiter>().Should().BeSameAs(limiter);
        host.Services.GetRequiredService<AgentConcurrencyLimiter>().Should().BeSameAs(limiter);
    }

    [Fact]
    public void Registering_twice_registers_one_limiter_and_one_validator_and_applies_both_configurations()
    {
        var services = new ServiceCollection();
        services.AddAgentConcurrency(options => options.MaxParallelRuns = 7);
        services.AddAgentConcurrency(options => options.MaxParallelSessions = 9);

        services.Count(d => d.ServiceType == typeof(AgentConcurrencyLimiter)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IAgentConcurrencyLimiter)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IValidateOptions<AgentConcurrencyOptions>)).Should().Be(1);
        using var provider = services.BuildServiceProvider();
        var status = provider.GetRequiredService<AgentConcurrencyLimiter>().GetStatus();
        status.MaxParallelRuns.Should().Be(7);
        status.MaxParallelSessions.Should().Be(9);
    }

    [Fact]
    public async Task Agents_registered_by_the_builder_or_as_services_are_known_from_the_start_and_never_dropped()
    {
        using var host = new TestHost(
            new Dictionary<string, string?> { ["AgentConcurrency:AgentLimits:pickle"] = "2", ["AgentConcurrency:IdleAgentTimeout"] = "00:00:01" },
            services =>
            {
                services.AddAgentConcurrency().AddAgent(new AgentDef("cookie", 1)).AddAgents([new AgentDef("pickle", 3)]);
                services.AddSingleton(new AgentDef("ham", 4));
            });

        var status = host.Limiter.GetStatus();

        status.Agents.Select(a => (a.AgentId, a.Limit, a.Active)).Should().Equal(("cookie", 1, 0), ("ham", 4, 0), ("pickle", 2, 0));

        // A registered agent is pinned; an agent seen only in requests is dropped once idle.
        await using (await host.Limiter.AcquireAsync(new AgentDef("transient", 1)).Within())
        {
        }

        host.Clock.Advance(TimeSpan.FromSeconds(10));
        host.Limiter.GetStatus().Agents.Select(a => a.AgentId).Should().Equal("cookie", "ham", "pickle");
    }

    [Fact]
    public void A_later_registration_of_the_same_agent_id_wins()
    {
        using var host = new TestHost(configure: services => services.AddAgentConcurrency().AddAgent(new AgentDef("cookie", 1)).AddAgent(new AgentDef("cookie", 5)));

        host.Limiter.GetStatus().Agent("cookie").Limit.Should().Be(5);
    }

    [Fact]
    public void AddAgents_with_one_bad_agent_registers_none_of_them()
    {
        var services = new ServiceCollection();
        var builder = services.AddAgentConcurrency();

        var act = () => builder.AddAgents([new AgentDef("cookie", 1), new AgentDef("pickle", 0)]);

        act.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("agents");
        services.Should().NotContain(d => d.ServiceType == typeof(AgentDef));
    }

    [Theory]
    [InlineData(null, 1, typeof(ArgumentNullException))]
    [InlineData(" ", 1, typeof(ArgumentException))]
    [InlineData("cookie", 0, typeof(ArgumentOutOfRangeException))]
    public void AddAgent_refuses_an_agent_that_could_never_run(string? id, int maxConcurrency, Type expected)
    {
        var builder = new ServiceCollection().AddAgentConcurrency();

        var act = () => builder.AddAgent(new AgentDef(id!, maxConcurrency));

        var thrown = act.Should().Throw<ArgumentException>().Which;
        thrown.Should().BeOfType(expected);
        thrown.ParamName.Should().Be("agent");
    }

    [Fact]
    public void An_invalid_AgentDef_service_fails_when_the_limiter_is_built()
    {
        using var host = new TestHost(configure: services => services.AddSingleton(new AgentDef("cookie", 0)));

        var act = () => host.Limiter;

        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*MaxConcurrency must be at least 1*");
    }

    [Fact]
    public async Task The_limiter_uses_the_containers_clock()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:QueueTimeout"] = "00:00:05" });
        var cookie = new AgentDef("cookie", 1);
        await using var holder = await host.Limiter.AcquireAsync(cookie).Within();
        var waiter = host.Limiter.AcquireAsync(cookie).ShouldBeWaiting();

        host.Clock.Advance(TimeSpan.FromSeconds(5));

        (await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>())
            .Which.ErrorCode.Should().Be(ConcurrencyErrorCode.QueueTimeout);
    }

    [Fact]
    public async Task Disposing_the_container_disposes_the_limiter_and_fails_its_waiters()
    {
        var host = new TestHost();
        var limiter = host.Limiter;
        var cookie = new AgentDef("cookie", 1);
        await using var holder = await limiter.AcquireAsync(cookie).Within();
        var waiter = limiter.AcquireAsync(cookie).ShouldBeWaiting();

        host.Dispose();

        await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ObjectDisposedException>();
        limiter.Invoking(l => l.TryAcquire(cookie, null, out _)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void Without_logging_metrics_or_a_clock_in_the_container_the_limiter_still_works()
    {
        var services = new ServiceCollection();
        services.AddAgentConcurrency();
        using var provider = services.BuildServiceProvider();

        var limiter = provider.GetRequiredService<IAgentConcurrencyLimiter>();

        limiter.TryAcquire(new AgentDef("cookie", 1), null, out var slot).Should().BeTrue();
        slot.Dispose();
    }

    [Fact]
    public void Options_configured_in_code_after_binding_win_over_the_configuration()
    {
        using var host = new TestHost(
            new Dictionary<string, string?> { ["AgentConcurrency:MaxParallelRuns"] = "3" },
            services => services.AddAgentConcurrency(options => options.MaxParallelRuns = 4));

        host.Limiter.GetStatus().MaxParallelRuns.Should().Be(4);
    }

    [Fact]
    public void Other_named_options_are_not_the_limiters_to_validate()
    {
        var services = new ServiceCollection();
        services.AddAgentConcurrency();
        services.Configure<AgentConcurrencyOptions>("other", options => options.MaxParallelRuns = 0);
        using var provider = services.BuildServiceProvider();

        var act = () => provider.GetRequiredService<IOptionsMonitor<AgentConcurrencyOptions>>().Get("other");

        act.Should().NotThrow();
    }
}
