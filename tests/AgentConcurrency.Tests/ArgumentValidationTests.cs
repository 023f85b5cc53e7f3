namespace AgentConcurrency.Tests;

/// <summary>Argument rules the bad-input matrix does not cover: overrides, infinite timeouts, result codes.</summary>
public class ArgumentValidationTests
{
    [Fact]
    public void Acquire_MaxConcurrencyBelowOneWithAnOverride_StillThrows()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.AgentLimits["a"] = 3);

        limiter.Invoking(l => l.TryAcquire(new AgentDef("a", 0), null, out _))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("agent");
    }

    [Fact]
    public async Task AcquireAsync_InfiniteQueueTimeout_IsValid()
    {
        using var limiter = TestSupport.CreateLimiter();

        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = Timeout.InfiniteTimeSpan });

        slot.IsHeld.Should().BeTrue();
    }

    [Fact]
    public void SlotResult_Failed_UndefinedCode_Throws()
    {
        var act = () => SlotResult.Failed((ConcurrencyErrorCode)99);

        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("error");
    }
}
