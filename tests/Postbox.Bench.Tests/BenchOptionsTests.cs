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

    [Theory]
    [InlineData("--drain-messages", "0", "--drain-messages", "1 to 100,000,000")]
    [InlineData("--drain-messages", "-5", "--drain-messages", "1 to 100,000,000")]
    [InlineData("--drain-messages", "99999999999", "--drain-messages", "1 to 100,000,000")] // was an OverflowException
    [InlineData("--drain-repeats", "0", "--drain-repeats", "from 1")]
    [InlineData("--producer-clients", "0", "--producer-clients", "from 1")]
    [InlineData("--rounds", "0", "--rounds", "from 1")]
    [InlineData("--bulk-size", "0", "--bulk-size", "from 1")]
    [InlineData("--bulk-clients", "-1", "--bulk-clients", "from 1")]
    [InlineData("--payload-bytes", "0", "--payload-bytes", "from 1")]
    [InlineData("--keys", "-1", "--keys", "from 0")]
    [InlineData("--batch-size", "0", "--batch-size", "1 to 10,000")] // the relay's own range (RelayOptionsValidator)
    [InlineData("--batch-size", "10001", "--batch-size", "1 to 10,000")]
    [InlineData("--in-flight", "0", "--in-flight", "1 to 64")]
    [InlineData("--in-flight", "65", "--in-flight", "1 to 64")]
    [InlineData("--raw-channels", "0", "--raw-channels", "from 1")]
    [InlineData("--raw-window", "0", "--raw-window", "from 1")]
    [InlineData("--rates", "0", "--rates", "comma-separated")]
    [InlineData("--rates", "1,000", "--rates", "comma-separated")] // reads as the rates 1 and 0
    [InlineData("--rates", "100,abc", "--rates", "from 1")]
    [InlineData("--poll-ms", "0", "--poll-ms", "from 10")]
    [InlineData("--backlog-small", "0", "--backlog-small", "from 1")]
    [InlineData("--backlog-large", "0", "--backlog-large", "from 1")]
    [InlineData("--steady-rate", "0", "--steady-rate", "from 1")]
    [InlineData("--ordering-messages", "0", "--ordering-messages", "from 1")]
    [InlineData("--ordering-keys", "0", "--ordering-keys", "from 1")]
    [InlineData("--ordering-rounds", "0", "--ordering-rounds", "from 1")]
    [InlineData("--peer-recovery-batch", "0", "--peer-recovery-batch", "from 1")]
    [InlineData("--peer-poll-ms", "0", "--peer-poll-ms", "from 10")]
    [InlineData("--peer-drain-messages", "0", "--peer-drain-messages", "from 1")]
    [InlineData("--scale", "0", "--scale", "greater than 0 and at most 100")]
    [InlineData("--scale", "-1", "--scale", "greater than 0")]
    [InlineData("--scale", "1000", "--scale", "at most 100")] // sizes would clamp or overflow
    [InlineData("--scale", "NaN", "--scale", "greater than 0")]
    [InlineData("--producer-seconds", "0", "--producer-seconds", "greater than 0")]
    [InlineData("--latency-seconds", "-1", "--latency-seconds", "greater than 0")]
    [InlineData("--warmup-seconds", "-1", "--warmup-seconds", "from 0")]
    [InlineData("--idle-seconds", "0", "--idle-seconds", "greater than 0")]
    [InlineData("--steady-seconds", "0", "--steady-seconds", "greater than 0")]
    [InlineData("--steady-sample-seconds", "0", "--steady-sample-seconds", "greater than 0")]
    [InlineData("--drain-prototype", "yes", "--drain-prototype", "true or false")]
    [InlineData("--peer-confirms", "1", "--peer-confirms", "true or false")]
    [InlineData("--drain-messages", "--no-write", "--drain-messages", "needs a value")] // would swallow the next option
    [InlineData("--peer", "--no-write", "--peer", "needs a value")]
    [InlineData("--scenarios", "", "--scenarios", "at least one scenario")] // would run nothing and exit 0
    [InlineData("--scenarios", ",", "--scenarios", "at least one scenario")]
    [InlineData("--out", "", "--out", "needs a directory")]
    [InlineData("--out", " ", "--out", "needs a directory")]
    [InlineData("--mysql", "garbage;;==", "--mysql", "not a valid connection string")]
    [InlineData("--scale", "0.0001", "--scale", "below its minimum")] // durations of 0 s would "meet" the idle target
    public void ABadValue_IsRefused_NamingTheOptionAndItsRange(string option, string value, string named, string range)
    {
        var error = Assert.Throws<ArgumentException>(() => BenchOptions.Parse([option, value]));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains(range, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task TwoRunsInTheSameMinute_WriteTwoFiles_NeitherOverwritten()
    {
        var output = Path.Combine(Path.GetTempPath(), "postbox-bench-twice-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var options = BenchOptions.Parse(["--out", output]);
            var first = await BenchRunner.WriteAsync(options, "first");
            var second = await BenchRunner.WriteAsync(options, "second");

            Assert.NotEqual(first, second);
            Assert.Equal("first", await File.ReadAllTextAsync(first!));
            Assert.Equal("second", await File.ReadAllTextAsync(second!));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Fact]
    public void AScaleThatWouldOverflowASize_IsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--drain-messages", "50000000", "--scale", "10"]));

        Assert.Contains("--drain-messages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AValueAtTheEnd_IsMissing()
    {
        var error = Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["--drain-messages"]));

        Assert.Contains("--drain-messages needs a value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidSizes_AreKept()
    {
        var options = BenchOptions.Parse(["--drain-messages", "200,000", "--rates", "100,5000", "--batch-size", "10000", "--in-flight", "64", "--keys", "0", "--warmup-seconds", "0"]);

        Assert.Equal(200_000, options.DrainMessages);
        Assert.Equal([100, 5000], options.Rates);
        Assert.Equal(10_000, options.BatchSize);
        Assert.Equal(64, options.InFlightBatches);
    }

    [Theory]
    [InlineData("--drain-messages", "1234", "--smoke")] // --smoke after the size used to reset it to 500
    [InlineData("--smoke", "--drain-messages", "1234")]
    public void Smoke_WhereverItStands_LeavesExplicitSizes(params string[] args)
    {
        var options = BenchOptions.Parse(args);

        Assert.True(options.Smoke);
        Assert.Equal(1234, options.DrainMessages);
        Assert.Equal([200], options.Rates); // the other sizes are still the smoke ones
    }

    [Fact]
    public void Smoke_WritesNoFile_UnlessOutIsGiven()
    {
        Assert.False(BenchOptions.Parse(["--smoke"]).Write);
        Assert.True(BenchOptions.Parse(["--smoke", "--out", "/tmp/x"]).Write);
        Assert.True(BenchOptions.Parse([]).Write);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_IsRecognised_AndTheUsageNamesEveryOption(string flag)
    {
        Assert.True(BenchOptions.Parse([flag]).Help);
        var usage = BenchOptions.Usage();
        foreach (var option in new[] { "--scenarios", "--scale", "--smoke", "--drain-messages", "--rates", "--batch-size", "--in-flight", "--out", "--no-write", "--peer-confirms", "--steady-sample-seconds" })
        {
            Assert.Contains(option, usage, StringComparison.Ordinal);
        }

        Assert.Contains("100,1000,5000", usage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void AnInfiniteOrUndefinedRatio_PrintsADash(double ratio)
    {
        var report = new Report();

        report.Add("2", "CPU", "1.0", "0.000", ratio, "reported", null);

        Assert.Equal("—", Assert.Single(report.Rows).Ratio);
    }
}
