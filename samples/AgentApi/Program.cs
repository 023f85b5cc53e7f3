// A minimal API in front of AgentConcurrency: start agent runs, follow them, cancel them, and see the queue.
//   POST   /agents/{id}/runs   start a run in the background: 202 { runId, status: "running" | "queued", position }
//   GET    /runs/{runId}       follow it
//   DELETE /runs/{runId}       cancel it, queued or running
//   GET    /queue              the limiter's status snapshot: who runs, who waits, in serving order
//   POST   /agents/{id}/ask    answer inline, holding one of the agent's slots through ASP.NET Core's rate limiting:
//                              200 when done, 429 with the reason when the agent's queue is full or the wait times out
// It listens on 127.0.0.1 only, on the port in configuration ("Port"; 0 picks a free one).
using System.Net;
using AgentApi;
using AgentConcurrency;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, builder.Configuration.GetValue("Port", 5080)));
builder.Services
    .AddAgentConcurrency(builder.Configuration.GetSection("AgentConcurrency"))
    .AddAgents(builder.Configuration.GetSection("Agents").Get<AgentDef[]>() ?? []);
builder.Services.AddSingleton<RunRegistry>();
builder.Services.AddSingleton<AgentCatalog>();
builder.Services.AddRateLimiter(options => options.AddPolicy<string, AgentSlotsPolicy>(AgentSlotsPolicy.Name));

var app = builder.Build();
app.UseRateLimiter();

app.MapPost("/agents/{agentId}/runs", (string agentId, StartRunRequest? request, RunRegistry runs) =>
{
    var outcome = runs.Start(agentId, request ?? new StartRunRequest());
    return outcome switch
    {
        { Run: { } run } => Results.Accepted($"/runs/{run.RunId}", run),
        { UnknownAgent: true } => Results.Problem($"No agent '{agentId}' is registered.", statusCode: StatusCodes.Status404NotFound),
        _ => Results.Problem(
            $"The limiter refused the run: {outcome.Refusal}.", statusCode: StatusCodes.Status429TooManyRequests, extensions: new Dictionary<string, object?> { ["errorCode"] = outcome.Refusal?.ToString() }),
    };
});

app.MapGet("/runs/{runId}", (string runId, RunRegistry runs) =>
    runs.Find(runId) is { } run ? Results.Ok(run) : Results.NotFound());

app.MapDelete("/runs/{runId}", async (string runId, RunRegistry runs, CancellationToken cancellationToken) =>
    await runs.CancelAsync(runId, cancellationToken) is { } run ? Results.Ok(run) : Results.NotFound());

app.MapPost("/agents/{agentId}/ask", async (string agentId, int? durationMs, AgentCatalog agents, CancellationToken cancellationToken) =>
{
    if (!agents.TryGet(agentId, out _))
    {
        return Results.Problem($"No agent '{agentId}' is registered.", statusCode: StatusCodes.Status404NotFound);
    }

    // The simulated work; the agent's slot is held from before this handler runs until its response is written.
    await Task.Delay(TimeSpan.FromMilliseconds(durationMs ?? 100), cancellationToken);
    return Results.Ok(new { agentId, answer = "done" });
}).RequireRateLimiting(AgentSlotsPolicy.Name);

app.MapGet("/queue", (IAgentConcurrencyLimiter limiter) => Results.Ok(limiter.GetStatus()));

await app.StartAsync();
// With port 0 the bound address is only known now; tests and scripts read it from this line.
Console.WriteLine($"AgentApi listening on {app.Urls.First()}");
await app.WaitForShutdownAsync();
