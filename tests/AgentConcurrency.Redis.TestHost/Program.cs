// One replica of a host that shares its limits through Redis, for the multi-process tests.
//   storm <redis> <prefix> <iterations>: runs agent "gpu" (limit 2) that many times from 4 tasks; while a run is held it
//     counts itself in Redis ("<prefix>test:inflight") and records the highest count seen ("<prefix>test:peak").
//   hold <redis> <prefix>: takes both slots of "gpu", prints "held", and waits to be killed.
using System.Globalization;
using AgentConcurrency;
using AgentConcurrency.Redis;
using StackExchange.Redis;

var (mode, configuration, prefix) = (args[0], args[1], args[2]);
await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
// Long enough that a replica starved of CPU while the whole suite runs on two cores still renews it in time (a lapsed
// lease hands its slots to others while it runs), short enough that the killed-process test waits only seconds.
var redisOptions = new RedisConcurrencyOptions { KeyPrefix = prefix, LeaseTtl = TimeSpan.FromSeconds(5) };
await using var limiter = new RedisAgentConcurrencyLimiter(connection, new AgentConcurrencyOptions(), redisOptions);
var gpu = new AgentDef("gpu", MaxConcurrency: 2);

if (mode == "hold")
{
    _ = await limiter.AcquireAsync(gpu);
    _ = await limiter.AcquireAsync(gpu);
    Console.WriteLine("held");
    await Task.Delay(Timeout.Infinite);
}

var iterations = int.Parse(args[3], CultureInfo.InvariantCulture);
var db = connection.GetDatabase();
const string CountIn = "local n = redis.call('INCR', KEYS[1]) if n > tonumber(redis.call('GET', KEYS[2]) or 0) then redis.call('SET', KEYS[2], n) end return n";
await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
{
    for (var i = 0; i < iterations; i++)
    {
        await using var slot = await limiter.AcquireAsync(gpu);
        await db.ScriptEvaluateAsync(CountIn, [prefix + "test:inflight", prefix + "test:peak"]);
        await Task.Delay(2);
        await db.StringDecrementAsync(prefix + "test:inflight");
    }
}));
Console.WriteLine("done");
