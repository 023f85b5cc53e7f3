using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace AgentConcurrency.Tests.Hosting;

/// <summary>Both samples end to end, each in its own process; their timing is real, so every wait is bounded generously.</summary>
public class SampleTests
{
    private static readonly TimeSpan ProcessBound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AgentHost_runs_the_configured_scenario_shows_queueing_and_a_timeout_and_stops_by_itself()
    {
        using var sample = ChildProcess.Start("AgentHostDll");

        var exitCode = await sample.WaitForExitAsync(ProcessBound);

        var output = sample.Output;
        exitCode.Should().Be(0, output);
        output.Should().Contain("runs 0/3", "MaxParallelRuns comes from appsettings.json");
        output.Should().MatchRegex(@"cookie\s+1\s+0\s+0", "cookie's limit of 1 comes from configuration");
        output.Should().MatchRegex(@"pickle\s+3\s+0\s+0", "pickle's limit of 3 comes from configuration");
        output.Should().Contain("scheduler cookie sch-1 waits, queued at position 1");
        output.Should().Contain("timed out in the queue (QueueTimeout)");
        output.Should().Contain("scheduler cookie sch-1 runs");
        output.Should().Contain("Final status:");
    }

    [Fact]
    public async Task AgentApi_starts_queues_follows_cancels_and_shows_the_queue_over_http()
    {
        using var sample = ChildProcess.Start("AgentApiDll", "--Port=0");
        var line = await sample.WaitForLineAsync(l => l.StartsWith("AgentApi listening on ", StringComparison.Ordinal), ProcessBound);
        var address = new Uri(line["AgentApi listening on ".Length..].Trim());
        address.Host.Should().Be("127.0.0.1", "the sample binds to loopback only");
        using var http = new HttpClient { BaseAddress = address, Timeout = ProcessBound };

        // cookie allows one run: the first runs, the second queues at position 1.
        var first = await StartRunAsync(http, "cookie");
        first.GetProperty("status").GetString().Should().Be("running");
        var second = await StartRunAsync(http, "cookie");
        second.GetProperty("status").GetString().Should().Be("queued");
        second.GetProperty("position").GetInt32().Should().Be(1);
        var secondId = second.GetProperty("runId").GetString();

        var queue = await http.GetFromJsonAsync<JsonElement>("/queue");
        var cookie = queue.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == "cookie");
        cookie.GetProperty("active").GetInt32().Should().Be(1);
        cookie.GetProperty("queuedRequests").EnumerateArray().Select(q => q.GetProperty("runId").GetString()).Should().Equal(secondId);

        var followed = await http.GetFromJsonAsync<JsonElement>($"/runs/{secondId}");
        followed.GetProperty("status").GetString().Should().Be("queued");
        followed.GetProperty("position").GetInt32().Should().Be(1);

        // Cancelling the running one hands cookie's slot to the queued one.
        var canceled = await (await http.DeleteAsync($"/runs/{first.GetProperty("runId").GetString()}")).Content.ReadFromJsonAsync<JsonElement>();
        canceled.GetProperty("status").GetString().Should().Be("canceled");
        (await PollStatusAsync(http, secondId!, "running")).Should().Be("running");

        // Cancelling a queued run takes it out of the queue.
        var third = await StartRunAsync(http, "cookie");
        third.GetProperty("status").GetString().Should().Be("queued");
        var thirdCanceled = await (await http.DeleteAsync($"/runs/{third.GetProperty("runId").GetString()}")).Content.ReadFromJsonAsync<JsonElement>();
        thirdCanceled.GetProperty("status").GetString().Should().Be("canceled");
        (await http.GetFromJsonAsync<JsonElement>("/queue")).GetProperty("queuedRequests").GetInt32().Should().Be(0);

        (await http.PostAsync("/agents/nobody/runs", content: null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await http.GetAsync("/runs/no-such-run")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AgentApi_ask_endpoint_takes_the_agents_slots_through_aspnetcore_rate_limiting()
    {
        using var sample = ChildProcess.Start("AgentApiDll", "--Port=0", "--AgentConcurrency:QueueLimit=1");
        var line = await sample.WaitForLineAsync(l => l.StartsWith("AgentApi listening on ", StringComparison.Ordinal), ProcessBound);
        using var http = new HttpClient { BaseAddress = new Uri(line["AgentApi listening on ".Length..].Trim()), Timeout = ProcessBound };

        // A background run holds cookie's one slot: the endpoint's request waits in the same queue, behind it.
        var run = await StartRunAsync(http, "cookie");
        run.GetProperty("status").GetString().Should().Be("running");
        var asking = http.PostAsync("/agents/cookie/ask?durationMs=10", content: null);
        var queued = await PollAsync(http, "/queue", q => q.GetProperty("queuedRequests").GetInt32() == 1);
        var cookie = queued.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == "cookie");
        cookie.GetProperty("queuedRequests")[0].GetProperty("source").GetString().Should().Be("http");

        // The queue holds one: the next request is refused with the failed lease's reason.
        using (var refused = await http.PostAsync("/agents/cookie/ask", content: null))
        {
            refused.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
            (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString().Should().Be("Queue limit reached");
        }

        // Ending the run hands the slot to the waiting request.
        (await http.DeleteAsync($"/runs/{run.GetProperty("runId").GetString()}")).StatusCode.Should().Be(HttpStatusCode.OK);
        using (var answered = await asking.WaitAsync(ProcessBound))
        {
            answered.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        (await http.PostAsync("/agents/cookie/ask?durationMs=0", content: null)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await http.PostAsync("/agents/nobody/ask", content: null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await http.GetFromJsonAsync<JsonElement>("/queue")).GetProperty("activeRuns").GetInt32().Should().Be(0, "every slot came back");
    }

    private static async Task<JsonElement> StartRunAsync(HttpClient http, string agentId)
    {
        using var response = await http.PostAsJsonAsync($"/agents/{agentId}/runs", new { durationMs = 60_000 });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        response.Headers.Location.Should().NotBeNull();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Reads <paramref name="path"/> until it satisfies <paramref name="done"/>: across a process boundary there is no task to await.</summary>
    private static async Task<JsonElement> PollAsync(HttpClient http, string path, Func<JsonElement, bool> done)
    {
        using var deadline = new CancellationTokenSource(ProcessBound);
        while (true)
        {
            var current = await http.GetFromJsonAsync<JsonElement>(path, deadline.Token);
            if (done(current))
            {
                return current;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
        }
    }

    /// <summary>Reads a run until it reaches <paramref name="status"/>.</summary>
    private static async Task<string?> PollStatusAsync(HttpClient http, string runId, string status) =>
        (await PollAsync(http, $"/runs/{runId}", run => run.GetProperty("status").GetString() == status)).GetProperty("status").GetString();
}
