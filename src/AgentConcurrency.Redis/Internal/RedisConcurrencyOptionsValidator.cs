using Microsoft.Extensions.Options;

namespace AgentConcurrency.Redis.Internal;

/// <summary>Checks <see cref="RedisConcurrencyOptions"/> when the host starts, with the message the limiter would throw.</summary>
internal sealed class RedisConcurrencyOptionsValidator : IValidateOptions<RedisConcurrencyOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisConcurrencyOptions options)
    {
        try
        {
            options.ThrowIfInvalid();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException invalid)
        {
            return ValidateOptionsResult.Fail(invalid.Message);
        }
    }
}
