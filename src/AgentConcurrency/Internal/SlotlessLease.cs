using System.Threading.RateLimiting;

namespace AgentConcurrency.Internal;

/// <summary>
/// A lease that holds no slot: a refusal with its reason, or the success of a request for zero permits. Nothing to
/// release, so one instance of each serves every caller, as the runtime's own limiters do.
/// </summary>
internal sealed class SlotlessLease : RateLimitLease
{
    /// <summary>The reason given for a full queue, in the words of the runtime's <c>ConcurrencyLimiter</c>.</summary>
    public const string QueueLimitReached = "Queue limit reached";

    private static readonly SlotlessLease[] RefusalsByCode =
        [.. Enum.GetValues<ConcurrencyErrorCode>().Order().Select(code => new SlotlessLease(isAcquired: false, ReasonFor(code)))];

    private readonly string? _reasonPhrase;

    private SlotlessLease(bool isAcquired, string? reasonPhrase)
    {
        IsAcquired = isAcquired;
        _reasonPhrase = reasonPhrase;
    }

    /// <summary>A request for zero permits that found a slot free.</summary>
    public static SlotlessLease ZeroPermitsGranted { get; } = new(isAcquired: true, reasonPhrase: null);

    /// <summary>A request that was still waiting when its adapter, or the limiter behind it, was disposed.</summary>
    public static SlotlessLease Disposed { get; } = new(isAcquired: false, "Limiter disposed");

    public override bool IsAcquired { get; }

    public override IEnumerable<string> MetadataNames => _reasonPhrase is null ? [] : [MetadataName.ReasonPhrase.Name];

    public static SlotlessLease RefusedFor(ConcurrencyErrorCode code) => RefusalsByCode[(int)code];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (_reasonPhrase is not null && metadataName == MetadataName.ReasonPhrase.Name)
        {
            metadata = _reasonPhrase;
            return true;
        }

        metadata = null;
        return false;
    }

    private static string ReasonFor(ConcurrencyErrorCode code) =>
        code == ConcurrencyErrorCode.QueueFull ? QueueLimitReached : code.ToString();
}
