namespace AgentConcurrency.Tests;

public class ArgumentValidationTests
{
    public static TheoryData<AgentDef?, Type> BadAgents => new()
    {
        { null, typeof(ArgumentNullException) },
        { new AgentDef(null!, 1), typeof(ArgumentNullException) },
        { new AgentDef(string.Empty, 1), typeof(ArgumentException) },
        { new AgentDef("   ", 1), typeof(ArgumentException) },
        { new AgentDef("a", 0), typeof(ArgumentOutOfRangeException) },
        { new AgentDef("a", -5), typeof(ArgumentOutOfRangeException) },
    };

    public static TheoryData<AcquireOptions> BadRequests => new()
    {
        new AcquireOptions { SessionId = string.Empty },
        new AcquireOptions { RunId = " " },
        new AcquireOptions { Source = "\t" },
        new AcquireOptions { QueueTimeout = TimeSpan.FromSeconds(-1) },
    };

    [Theory]
    [MemberData(nameof(BadAgents))]
    public void Acquire_BadAgent_ThrowsNamingTheArgumentAndTakesNothing(AgentDef? agent, Type expected)
    {
        using var limiter = TestSupport.CreateLimiter();

        foreach (var act in new Action[]
        {
            () => limiter.AcquireAsync(agent!),
            () => limiter.AcquireAsync(agent!, new AcquireOptions()),
            () => limiter.TryAcquire(agent!, null, out _),
        })
        {
            act.Should().Throw<ArgumentException>().Which.Should().Match<ArgumentException>(e => e.GetType() == expected && e.ParamName == "agent");
        }

        limiter.GetStatus().Agents.Should().BeEmpty();
    }

    [Fact]
    public void Acquire_MaxConcurrencyBelowOneWithAnOverride_StillThrows()
    {
        using var limiter = TestSupport.CreateLimiter(options => options.AgentLimits["a"] = 3);

        limiter.Invoking(l => l.TryAcquire(new AgentDef("a", 0), null, out _))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("agent");
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Acquire_BadRequest_ThrowsNamingOptionsAndTakesNothing(AcquireOptions options)
    {
        using var limiter = TestSupport.CreateLimiter();

        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie, options)).Should().Throw<ArgumentException>().WithParameterName("options");
        limiter.Invoking(l => l.TryAcquire(TestSupport.Cookie, options, out _)).Should().Throw<ArgumentException>().WithParameterName("options");

        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0 && s.Agents.Count == 0);
    }

    [Fact]
    public void AcquireAsync_NullOptions_ThrowsArgumentNullException()
    {
        using var limiter = TestSupport.CreateLimiter();

        limiter.Invoking(l => l.AcquireAsync(TestSupport.Cookie, (AcquireOptions)null!))
            .Should().Throw<ArgumentNullException>().WithParameterName("options");
    }

    [Fact]
    public async Task AcquireAsync_InfiniteQueueTimeout_IsValid()
    {
        using var limiter = TestSupport.CreateLimiter();

        await using var slot = await limiter.AcquireAsync(TestSupport.Cookie, new AcquireOptions { QueueTimeout = Timeout.InfiniteTimeSpan });

        slot.IsHeld.Should().BeTrue();
    }

    [Theory]
    [InlineData(null, typeof(ArgumentNullException))]
    [InlineData("", typeof(ArgumentException))]
    [InlineData(" ", typeof(ArgumentException))]
    public void ExplicitSlots_BadIds_ThrowNamingTheArgument(string? id, Type expected)
    {
        using var limiter = TestSupport.CreateLimiter();

        Check(() => limiter.TryAcquireSessionSlot(id!), "sessionId");
        Check(() => limiter.TryAcquireRunSlot(id!, "r1"), "sessionId");
        Check(() => limiter.TryAcquireRunSlot("s1", id!), "runId");
        Check(() => limiter.ReleaseRunSlot(id!), "runId");
        Check(() => limiter.ReleaseSessionSlot(id!), "sessionId");
        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.ActiveRuns == 0 && s.ActiveSessions == 0);

        void Check(Action act, string parameter) =>
            act.Should().Throw<ArgumentException>().Which.Should().Match<ArgumentException>(e => e.GetType() == expected && e.ParamName == parameter);
    }

    [Fact]
    public void SlotResult_Failed_UndefinedCode_Throws()
    {
        var act = () => SlotResult.Failed((ConcurrencyErrorCode)99);

        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("error");
    }
}
