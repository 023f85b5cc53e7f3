using Microsoft.Extensions.Time.Testing;

namespace AgentConcurrency.Tests;

/// <summary>A fake clock whose timestamp read throws while <see cref="Fails"/> is set: a host's clock that fails.</summary>
internal sealed class ClockFailingTimeProvider : FakeTimeProvider
{
    public bool Fails { get; set; }

    public override long GetTimestamp() => Fails ? throw new InvalidOperationException("no clock") : base.GetTimestamp();
}
