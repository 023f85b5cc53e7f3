using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentConcurrency.Tests.Hosting;

public class LoggingTests
{
    private static readonly AgentDef Cookie = new("cookie", MaxConcurrency: 1);

    [Fact]
    public async Task A_request_that_has_to_wait_logs_queued_at_debug_with_its_position()
    {
        using var host = new TestHost();
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();

        _ = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        var queued = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 1).Which;
        queued.Id.Name.Should().Be("RequestQueued");
        queued.Level.Should().Be(LogLevel.Debug);
        queued.Message.Should().Be("Request for agent 'cookie' queued at position 1.");
    }

    [Theory]
    [InlineData(QueueFullMode.Reject, null, "AgentLimitReached")]
    [InlineData(QueueFullMode.Wait, 0, "QueueFull")]
    public async Task A_rejected_request_logs_a_warning_saying_why(QueueFullMode whenFull, int? queueLimit, string reason)
    {
        using var host = new TestHost(configure: services => services.AddAgentConcurrency(o => (o.WhenFull, o.QueueLimit) = (whenFull, queueLimit)));
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();

        await host.Limiter.Invoking(l => l.AcquireAsync(Cookie).AsTask()).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        var rejected = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 2).Which;
        rejected.Id.Name.Should().Be("RequestRejected");
        rejected.Level.Should().Be(LogLevel.Warning);
        rejected.Message.Should().Be($"Request for agent 'cookie' rejected: {reason}.");
    }

    [Fact]
    public async Task A_queue_timeout_logs_a_warning_with_the_time_waited()
    {
        using var host = new TestHost(new Dictionary<string, string?> { ["AgentConcurrency:QueueTimeout"] = "00:00:02" });
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        host.Clock.Advance(TimeSpan.FromSeconds(2));
        await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<ConcurrencyLimitExceededException>();

        var timedOut = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 3).Which;
        timedOut.Id.Name.Should().Be("QueueTimeout");
        timedOut.Level.Should().Be(LogLevel.Warning);
        timedOut.Message.Should().Be("Request for agent 'cookie' timed out after 2 s in the queue.");
    }

    [Fact]
    public async Task Reaching_and_leaving_the_limit_log_once_per_transition_not_once_per_request()
    {
        using var host = new TestHost();
        var pickle = new AgentDef("pickle", MaxConcurrency: 2);

        var first = await host.Limiter.AcquireAsync(pickle).Within();
        var second = await host.Limiter.AcquireAsync(pickle).Within();
        host.Limiter.TryAcquire(pickle, null, out _).Should().BeFalse();
        host.Limiter.TryAcquire(pickle, null, out _).Should().BeFalse();
        first.Dispose();
        second.Dispose();

        var transitions = host.LimiterLogs().Where(r => r.Id.Id is 4 or 5).ToList();
        transitions.Select(r => (r.Id.Name, r.Level, r.Message)).Should().Equal(
            ("AgentLimitReached", LogLevel.Information, "Agent 'pickle' reached its limit: 2 of 2 slots held; new requests wait."),
            ("AgentLimitLeft", LogLevel.Information, "Agent 'pickle' is below its limit again: 1 of 2 slots held."));
    }

    [Fact]
    public async Task A_release_that_hands_the_slot_straight_to_a_waiter_is_no_transition()
    {
        using var host = new TestHost();
        var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        var waiter = host.Limiter.AcquireAsync(Cookie).ShouldBeWaiting();

        holder.Dispose();
        var second = await waiter.WaitAsync(TestSupport.Bound);

        host.LimiterLogs().Where(r => r.Id.Id is 4 or 5).Select(r => r.Id.Name).Should().Equal("AgentLimitReached");
        second.Dispose();
        host.LimiterLogs().Where(r => r.Id.Id is 4 or 5).Select(r => r.Id.Name).Should().Equal("AgentLimitReached", "AgentLimitLeft");
    }

    [Fact]
    public async Task A_log_provider_that_throws_costs_no_caller_its_slot_and_leaks_no_permit()
    {
        using var loggerFactory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(new ThrowingLoggerProvider()));
        await using var limiter = new AgentConcurrencyLimiter(
            new AgentConcurrencyOptions { QueueTimeout = TimeSpan.FromSeconds(1) }, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(), loggerFactory, meterFactory: null);

        var holder = await limiter.AcquireAsync(Cookie).Within();
        var waiter = limiter.AcquireAsync(Cookie).ShouldBeWaiting();
        limiter.TryAcquire(Cookie, null, out _).Should().BeFalse();
        holder.Dispose();
        var second = await waiter.WaitAsync(TestSupport.Bound);
        second.Dispose();
        limiter.UpdateOptions(new AgentConcurrencyOptions { MaxParallelRuns = 2 });

        var status = limiter.GetStatus();
        (status.ActiveRuns, status.QueuedRequests, status.Agent("cookie").Active).Should().Be((0, 0, 0));
    }

    private sealed class ThrowingLoggerProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ThrowingLogger();

        public void Dispose()
        {
        }

        private sealed class ThrowingLogger : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                throw new InvalidOperationException("A broken log provider.");
        }
    }

    [Fact]
    public async Task A_request_cancelled_while_waiting_logs_at_debug()
    {
        using var host = new TestHost();
        await using var holder = await host.Limiter.AcquireAsync(Cookie).Within();
        using var cancellation = new CancellationTokenSource();
        var waiter = host.Limiter.AcquireAsync(Cookie, cancellation.Token).ShouldBeWaiting();

        await cancellation.CancelAsync();
        await waiter.Invoking(w => w.WaitAsync(TestSupport.Bound)).Should().ThrowAsync<OperationCanceledException>();

        var canceled = host.LimiterLogs().Should().ContainSingle(r => r.Id.Id == 8).Which;
        canceled.Id.Name.Should().Be("RequestCanceled");
        canceled.Level.Should().Be(LogLevel.Debug);
    }

    [Fact]
    public void A_granted_request_logs_nothing_above_debug()
    {
        using var host = new TestHost();

        host.Limiter.TryAcquire(new AgentDef("pickle", 3), null, out var slot).Should().BeTrue();
        slot.Dispose();

        host.LimiterLogs().Should().BeEmpty();
    }
}
