using Microsoft.Extensions.Options;

namespace AgentConcurrency.Redis.Internal;

/// <summary>Refuses, at host start, limits that the Redis-backed limiter cannot keep: adaptive ones.</summary>
internal sealed class RedisLimitsValidator : IValidateOptions<AgentConcurrencyOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentConcurrencyOptions options) =>
        options.AdaptiveLimits.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                "AgentConcurrency:AdaptiveLimits is not supported with UseRedis: each process would learn its own limit for a shared count. Use static limits.");
}
