namespace AgentConcurrency.Tests;

public class AgentConcurrencyOptionsTests
{
    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        var options = new AgentConcurrencyOptions();

        options.MaxParallelSessions.Should().Be(100);
        options.MaxParallelRuns.Should().Be(50);
        options.MaxConcurrencyPerSource.Should().BeNull();
        options.AgentLimits.Should().BeEmpty();
        options.WhenFull.Should().Be(QueueFullMode.Wait);
        options.QueueLimit.Should().BeNull();
        options.QueueTimeout.Should().BeNull();
        options.IdleAgentTimeout.Should().Be(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void Constructor_EveryFieldInvalid_NamesEveryInvalidFieldInOneMessage()
    {
        var options = new AgentConcurrencyOptions
        {
            MaxParallelSessions = 0,
            MaxParallelRuns = -1,
            MaxConcurrencyPerSource = 0,
            QueueLimit = -1,
            QueueTimeout = TimeSpan.FromSeconds(-2),
            IdleAgentTimeout = TimeSpan.Zero,
            WhenFull = (QueueFullMode)7,
        };
        options.AgentLimits["cookie"] = 0;

        var act = () => new AgentConcurrencyLimiter(options);

        var message = act.Should().Throw<ArgumentException>().WithParameterName("options").Which.Message;
        message.Should().ContainAll(
            "MaxParallelSessions must be at least 1, was 0.",
            "MaxParallelRuns must be at least 1, was -1.",
            "MaxConcurrencyPerSource must be at least 1, was 0.",
            "QueueLimit must be at least 0, was -1.",
            "AgentLimits:cookie must be at least 1, was 0.",
            "WhenFull must be Wait or Reject, was 7.",
            "QueueTimeout must be zero or more and at most 49.7 days, or infinite",
            "IdleAgentTimeout must be positive, or infinite");
    }

    [Fact]
    public void Constructor_UnlimitedAndInfiniteValues_AreValid()
    {
        var options = new AgentConcurrencyOptions
        {
            MaxParallelSessions = null,
            MaxParallelRuns = null,
            QueueLimit = 0,
            QueueTimeout = Timeout.InfiniteTimeSpan,
            IdleAgentTimeout = Timeout.InfiniteTimeSpan,
        };

        var act = () => new AgentConcurrencyLimiter(options).Dispose();

        act.Should().NotThrow();
    }

    [Fact]
    public void Constructor_CopiesTheOptions_LaterChangesHaveNoEffect()
    {
        var options = new AgentConcurrencyOptions();
        options.AgentLimits["pickle"] = 1;
        using var limiter = new AgentConcurrencyLimiter(options);

        options.AgentLimits["pickle"] = 3;
        options.MaxParallelRuns = 1;

        limiter.TryAcquire(TestSupport.Pickle, null, out _).Should().BeTrue();
        limiter.TryAcquire(TestSupport.Pickle, null, out _).Should().BeFalse("the copied override of 1 still applies");
        limiter.GetStatus().MaxParallelRuns.Should().Be(50);
    }

    [Fact]
    public void Constructor_NoArguments_UsesDefaults()
    {
        using var limiter = new AgentConcurrencyLimiter();

        limiter.GetStatus().Should().Match<ConcurrencyStatus>(s => s.MaxParallelSessions == 100 && s.MaxParallelRuns == 50);
    }
}
