// A generic host that guards simulated agent dispatches with AgentConcurrency, configured from appsettings.json:
// agent "cookie" runs one at a time, "pickle" three, and at most three runs at once over all agents. Two sources
// dispatch at the same moment; the console shows who runs, who waits at which position and who times out, then the
// final status. The host stops by itself when the dispatches are done.
using AgentConcurrency;
using AgentHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// appsettings.json sits beside the program, so it is found whatever directory the host is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services
    .AddAgentConcurrency(builder.Configuration.GetSection("AgentConcurrency"))
    .AddAgents(builder.Configuration.GetSection("Agents").Get<AgentDef[]>() ?? []);
builder.Services.AddHostedService<DispatchSimulation>();

await builder.Build().RunAsync();
