// A generic host that guards simulated agent dispatches with AgentConcurrency, configured from appsettings.json:
// agent "cookie" runs one at a time, "pickle" three, and at most three runs at once over all agents. Two sources
// dispatch at the same moment; the console shows who runs, who waits at which position and who times out, then the
// final status. The host stops by itself when the dispatches are done.
// With --Redis=host:port the limits live in Redis (AgentConcurrency.Redis), shared by every copy started against the
// same Redis and --RedisKeyPrefix: start two at once and together they still run at most three.
using AgentConcurrency;
using AgentHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// appsettings.json sits beside the program, so it is found whatever directory the host is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
var agentConcurrency = builder.Services
    .AddAgentConcurrency(builder.Configuration.GetSection("AgentConcurrency"))
    .AddAgents(builder.Configuration.GetSection("Agents").Get<AgentDef[]>() ?? []);
if (builder.Configuration["Redis"] is { Length: > 0 } redis)
{
    agentConcurrency.UseRedis(redis, options => options.KeyPrefix = builder.Configuration["RedisKeyPrefix"] ?? options.KeyPrefix);
}

builder.Services.AddHostedService<DispatchSimulation>();

await builder.Build().RunAsync();
