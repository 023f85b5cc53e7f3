using System.Globalization;
using AgentConcurrency.Internal;
using StackExchange.Redis;

namespace AgentConcurrency.Redis.Internal;

/// <summary>
/// Runs the scripts against one Redis with one key prefix, passing the calling instance's global limits to each, and
/// turns a Redis that cannot be reached into <see cref="ConcurrencyStoreUnavailableException"/> at once.
/// </summary>
internal sealed class RedisStore(IConnectionMultiplexer connection, string keyPrefix, string owner, TimeSpan leaseTtl)
{
    private readonly RedisKey[] _keys = [keyPrefix];
    private readonly long _leaseTtlMilliseconds = (long)leaseTtl.TotalMilliseconds;

    /// <summary>Gets the connection the scripts run on.</summary>
    public IConnectionMultiplexer Connection { get; } = connection;

    /// <summary>Gets the prefix of every key and channel.</summary>
    public string KeyPrefix { get; } = keyPrefix;

    /// <summary>Gets the id of the calling instance: it holds everything it is granted under the lease of this id.</summary>
    public string Owner { get; } = owner;

    /// <summary>Gets the channel on which Redis names this instance's waiters that have an outcome.</summary>
    public RedisChannel WakeChannel => RedisChannel.Literal(KeyPrefix + "wake:" + Owner);

    /// <summary>Runs a script and waits for its reply.</summary>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis is not connected, or the command or its reply was lost.</exception>
    public RedisResult[] Run(RedisScript script, LimiterSettings settings, params RedisValue[] args)
    {
        ThrowIfDisconnected();
        try
        {
            return (RedisResult[])Connection.GetDatabase().ScriptEvaluate(script.Text, _keys, WithCaller(settings, args))!;
        }
        catch (Exception failure) when (IsUnreachable(failure))
        {
            throw Unavailable(failure);
        }
    }

    /// <summary>Runs a script.</summary>
    /// <exception cref="ConcurrencyStoreUnavailableException">Redis is not connected, or the command or its reply was lost.</exception>
    public async Task<RedisResult[]> RunAsync(RedisScript script, LimiterSettings settings, params RedisValue[] args)
    {
        ThrowIfDisconnected();
        try
        {
            return (RedisResult[])(await Connection.GetDatabase().ScriptEvaluateAsync(script.Text, _keys, WithCaller(settings, args)).ConfigureAwait(false))!;
        }
        catch (Exception failure) when (IsUnreachable(failure))
        {
            throw Unavailable(failure);
        }
    }

    /// <summary>
    /// Whether an exception says Redis did not serve the command: it may not have reached Redis, its reply did not come
    /// back, or Redis refused it (loading, read-only after a failover, busy).
    /// </summary>
    public static bool IsUnreachable(Exception failure) =>
        failure is RedisConnectionException or RedisTimeoutException or RedisServerException or ObjectDisposedException;

    private void ThrowIfDisconnected()
    {
        // Fails fast: a client left to itself would hold the command in its backlog until the connection returned.
        if (!Connection.IsConnected)
        {
            throw new ConcurrencyStoreUnavailableException($"Redis is not connected ({Connection.Configuration}); no slot was granted or queued.");
        }
    }

    private static ConcurrencyStoreUnavailableException Unavailable(Exception failure) =>
        new($"Redis could not serve the request: {failure.Message}", failure);

    /// <summary>Every script's first arguments: the caller's global limits, its owner id and its lease TTL (common.lua).</summary>
    private RedisValue[] WithCaller(LimiterSettings settings, RedisValue[] args)
    {
        var all = new RedisValue[args.Length + 5];
        all[0] = settings.MaxParallelSessions ?? -1;
        all[1] = settings.MaxParallelRuns ?? -1;
        all[2] = settings.MaxConcurrencyPerSource ?? -1;
        all[3] = Owner;
        all[4] = _leaseTtlMilliseconds;
        args.CopyTo(all, 5);
        return all;
    }

    /// <summary>A priority as a key that sorts byte by byte with the highest priority first (8 hex digits).</summary>
    public static string PriorityKey(int priority) => ((long)int.MaxValue - priority).ToString("x8", CultureInfo.InvariantCulture);
}
