namespace AgentConcurrency;

/// <summary>The outcome of <see cref="IAgentConcurrencyLimiter.TryAcquireSessionSlot"/> or <see cref="IAgentConcurrencyLimiter.TryAcquireRunSlot"/>.</summary>
public sealed class SlotResult
{
    // One instance per outcome: the explicit slot calls are on hot paths and never need to allocate.
    private static readonly SlotResult[] Failures =
        Enum.GetValues<ConcurrencyErrorCode>().Select(static code => new SlotResult(code)).ToArray();

    private SlotResult(ConcurrencyErrorCode? error) => Error = error;

    /// <summary>Gets the successful outcome.</summary>
    public static SlotResult Success { get; } = new(null);

    /// <summary>Gets whether the slot is held.</summary>
    public bool Succeeded => Error is null;

    /// <summary>Gets why the slot was refused, or <see langword="null"/> when it succeeded.</summary>
    public ConcurrencyErrorCode? Error { get; }

    /// <summary>Gets the failed outcome for <paramref name="error"/>.</summary>
    /// <param name="error">Why the slot was refused.</param>
    /// <returns>The failed outcome.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="error"/> is not a defined <see cref="ConcurrencyErrorCode"/>.</exception>
    public static SlotResult Failed(ConcurrencyErrorCode error)
    {
        if (!Enum.IsDefined(error))
        {
            throw new ArgumentOutOfRangeException(nameof(error), error, "Not a defined ConcurrencyErrorCode.");
        }

        return Failures[(int)error];
    }

    /// <inheritdoc/>
    public override string ToString() => Succeeded ? "Succeeded" : $"Failed: {Error}";
}
