namespace Postbox.Bench.Tests;

/// <summary>The harness's command line: what a run measures must not depend on the order of its options.</summary>
public sealed class BenchOptionsTests
{
    [Theory]
    [InlineData("--peer", "wolverine", "--scenarios", "drain,idle")] // the order of session 21's full run, which lost the peer
    [InlineData("--scenarios", "drain,idle", "--peer", "wolverine")]
    public void PeerAndScenarios_InEitherOrder_RunBoth(params string[] args)
    {
        var options = BenchOptions.Parse(args);

        Assert.Equal(["drain", "idle", "wolverine"], options.Scenarios.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Scenarios_GivenTwice_TheLastListWins_AndThePeerStays()
    {
        var options = BenchOptions.Parse(["--peer", "wolverine", "--scenarios", "drain", "--scenarios", "idle"]);

        Assert.Equal(["idle", "wolverine"], options.Scenarios.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AnUnknownScenario_IsRefused_NamingTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--scenarios", "drian"]));

        Assert.Contains("drian", error.Message, StringComparison.Ordinal);
        Assert.Contains("wolverine", error.Message, StringComparison.Ordinal);
    }
}
