using System.Threading.RateLimiting;

namespace AgentConcurrency.Internal;

/// <summary>A granted lease that holds one slot of an agent; disposing it releases the slot, once however often it is disposed.</summary>
internal sealed class SlotLease(AgentSlot slot, LeaseTotals totals) : RateLimitLease
{
    private int _disposed;

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => [];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        // The slot would ignore a second release anyway; the flag keeps the count of leases out exact.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                slot.Dispose();
            }
            finally
            {
                totals.Returned();
            }
        }

        base.Dispose(disposing);
    }
}
