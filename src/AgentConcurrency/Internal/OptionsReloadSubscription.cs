using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AgentConcurrency.Internal;

/// <summary>
/// Applies reloaded options to a hosted limiter in place, and logs and refuses invalid ones, keeping the limits in force.
/// </summary>
/// <remarks>
/// It listens to the same change tokens as <see cref="IOptionsMonitor{TOptions}"/> and builds the options with the same
/// factory (configuration binding, <c>Configure</c> calls, validators), rather than using
/// <see cref="IOptionsMonitor{TOptions}.OnChange(Action{TOptions, string})"/>: the monitor never reports options that fail
/// validation (it throws out of the reload instead), so the limiter could not say why its limits did not change.
/// </remarks>
internal sealed class OptionsReloadSubscription : IDisposable
{
    private readonly Action<AgentConcurrencyOptions> _apply;
    private readonly Action<string> _refuse;
    private readonly IOptionsFactory<AgentConcurrencyOptions> _factory;
    private readonly List<IDisposable> _registrations = [];

    // Building and applying are one step: two reloads at once (or the first one racing a change) must not let older
    // options be applied after newer ones.
    private readonly Lock _reloadSync = new();

    public OptionsReloadSubscription(
        Action<AgentConcurrencyOptions> apply,
        Action<string> refuse,
        IOptionsFactory<AgentConcurrencyOptions> factory,
        IEnumerable<IOptionsChangeTokenSource<AgentConcurrencyOptions>> sources)
    {
        _apply = apply;
        _refuse = refuse;
        _factory = factory;
        foreach (var source in sources)
        {
            // A source with no name is the default instance's, as IOptionsMonitor reads it.
            if ((source.Name ?? Options.DefaultName) == Options.DefaultName)
            {
                _registrations.Add(ChangeToken.OnChange(source.GetChangeToken, Reload));
            }
        }
    }

    /// <summary>
    /// Follows the container's option changes for a limiter built from its options: subscribes, then applies the options
    /// once more, since a reload between reading them and subscribing would otherwise be missed (the same values change
    /// nothing).
    /// </summary>
    public static OptionsReloadSubscription Start(IServiceProvider provider, Action<AgentConcurrencyOptions> apply, Action<string> refuse)
    {
        var subscription = new OptionsReloadSubscription(
            apply,
            refuse,
            provider.GetRequiredService<IOptionsFactory<AgentConcurrencyOptions>>(),
            provider.GetServices<IOptionsChangeTokenSource<AgentConcurrencyOptions>>());
        subscription.Reload();
        return subscription;
    }

    /// <summary>Builds the options afresh and applies them; invalid ones are logged and the limits in force stay.</summary>
    public void Reload()
    {
        using var scope = _reloadSync.EnterScope();
        try
        {
            _apply(_factory.Create(Options.DefaultName));
        }
        catch (OptionsValidationException failure)
        {
            _refuse(string.Join(" ", failure.Failures));
        }
#pragma warning disable CA1031 // A reload runs on the configuration's thread: whatever goes wrong is reported, never thrown there.
        catch (Exception failure)
#pragma warning restore CA1031
        {
            _refuse(failure.Message);
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
