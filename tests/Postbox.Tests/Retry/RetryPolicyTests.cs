using Postbox.Retry;

namespace Postbox.Tests.Retry;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(1, 15, 44)]      // n = 0: 0 + 15 + [0..29]·1
    [InlineData(2, 16, 74)]      // n = 1: 1 + 15 + [0..29]·2
    [InlineData(5, 271, 416)]    // n = 4: 256 + 15 + [0..29]·5
    [InlineData(25, 331791, 332516)] // n = 24: 331776 + 15 + [0..29]·25
    public void Asynq_StaysWithinTheFormulasBounds(int failedAttempts, double minSeconds, double maxSeconds)
    {
        for (var i = 0; i < 200; i++)
        {
            var delay = RetryPolicy.Asynq.GetDelay(failedAttempts).TotalSeconds;
            Assert.InRange(delay, minSeconds, maxSeconds);
        }
    }

    [Fact]
    public void Exponential_DoublesAndIsCapped()
    {
        var policy = RetryPolicy.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), factor: 2, jitter: 0);

        Assert.Equal(TimeSpan.FromSeconds(1), policy.GetDelay(1));
        Assert.Equal(TimeSpan.FromSeconds(2), policy.GetDelay(2));
        Assert.Equal(TimeSpan.FromSeconds(8), policy.GetDelay(4));
        Assert.Equal(TimeSpan.FromSeconds(10), policy.GetDelay(5));
        Assert.Equal(TimeSpan.FromSeconds(10), policy.GetDelay(1000));
    }

    [Fact]
    public void Exponential_JitterStaysWithinItsProportion()
    {
        var policy = RetryPolicy.Exponential(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(10), jitter: 0.2);
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(policy.GetDelay(1).TotalSeconds, 8, 12);
        }
    }

    [Fact]
    public void Policies_RejectNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryPolicy.Exponential(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryPolicy.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), jitter: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryPolicy.Fixed(TimeSpan.FromSeconds(1)).GetDelay(0));
    }
}
