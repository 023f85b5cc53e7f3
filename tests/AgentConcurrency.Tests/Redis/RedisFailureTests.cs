using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AgentConcurrency.Redis;
using StackExchange.Redis;

namespace AgentConcurrency.Tests.Redis;

/// <summary>Redis away, and back: requests fail fast and clearly, and nothing is granted twice.</summary>
public sealed class RedisFailureTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private static readonly AgentDef Gpu = new("gpu", MaxConcurrency: 1);

    [Fact]
    public async Task Acquiring_while_Redis_is_unreachable_fails_at_once_with_a_clear_exception()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(FailFast(NothingListening()));
        await using var limiter = new RedisAgentConcurrencyLimiter(connection);
        var clock = Stopwatch.StartNew();

        var thrown = await FluentActions.Awaiting(() => limiter.AcquireAsync(Gpu).AsTask()).Should().ThrowAsync<ConcurrencyStoreUnavailableException>();

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2), "a caller must not hang on a Redis that is away");
        thrown.Which.Message.Should().Contain("Redis");
        FluentActions.Invoking(() => limiter.TryAcquire(Gpu, null, out _)).Should().Throw<ConcurrencyStoreUnavailableException>();
        FluentActions.Invoking(() => limiter.TryAcquireSessionSlot("s1")).Should().Throw<ConcurrencyStoreUnavailableException>();
    }

    [SkippableFact]
    public async Task A_restarted_Redis_grants_nothing_twice_and_the_old_holders_learn_their_slots_are_lost()
    {
        _ = RedisTestServer.Connection;
        using var server = PrivateRedisServer.Start();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(FailFast(server.Configuration));
        await using var limiter = new RedisAgentConcurrencyLimiter(connection, redisOptions: new RedisConcurrencyOptions { LeaseTtl = TimeSpan.FromSeconds(1) });
        var held = await limiter.AcquireAsync(Gpu);

        var restored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionRestored += (_, e) =>
        {
            // The subscription connection comes back on its own; the scripts run on the interactive one.
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                restored.TrySetResult();
            }
        };
        server.Restart();
        await restored.Task.WaitAsync(Bound);
        await limiter.BeatAsync();

        held.IsHeld.Should().BeFalse("Redis forgot the grant, so it no longer limits anything");
        held.LostToken.IsCancellationRequested.Should().BeTrue();
        limiter.TryAcquire(Gpu, null, out var regranted).Should().BeTrue();
        limiter.TryAcquire(Gpu, null, out _).Should().BeFalse("the limit of 1 holds after the restart");
        await regranted.DisposeAsync();
    }

    private static string NothingListening()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    private static ConfigurationOptions FailFast(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 500;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return options;
    }
}
