using System.ComponentModel;
using Postbox.Retry;

namespace Postbox.Tests.Retry;

/// <summary>The configuration form of <see cref="RetryPolicy"/> (<c>Postbox:Relay:RetryPolicy</c>).</summary>
public sealed class RetryPolicyConverterTests
{
    private static RetryPolicy Parse(string text) => (RetryPolicy)TypeDescriptor.GetConverter(typeof(RetryPolicy)).ConvertFromInvariantString(text)!;

    [Theory]
    [InlineData("Asynq")]
    [InlineData(" asynq ")]
    public void Asynq_IsTheSharedInstance(string text) => Assert.Same(RetryPolicy.Asynq, Parse(text));

    [Fact]
    public void Fixed_And_Exponential_ReadTheirArguments()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), Parse("Fixed(00:00:05)").GetDelay(9));
        var exponential = Parse("Exponential(00:00:01, 00:00:10, 3, 0)");
        Assert.Equal([1d, 3, 9, 10], [.. new[] { 1, 2, 3, 4 }.Select(n => exponential.GetDelay(n).TotalSeconds)]);
        // Defaults: factor 2, jitter ±20 % (of the capped delay).
        Assert.InRange(Parse("exponential(00:00:01,00:00:10)").GetDelay(50).TotalSeconds, 8, 10);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Linear(00:00:01)")]
    [InlineData("Fixed")]
    [InlineData("Fixed(00:00:01")]
    [InlineData("Fixed(soon)")]
    [InlineData("Fixed(00:00:01, 00:00:02)")]
    [InlineData("Exponential(00:00:10, 00:00:01)")]
    [InlineData("Exponential(00:00:01, 00:00:10, 0.5)")]
    [InlineData("Exponential(00:00:01, 00:00:10, 2, 1)")]
    public void AnythingElse_IsRefusedNamingTheAcceptedForms(string text)
    {
        var error = Assert.Throws<FormatException>(() => Parse(text));
        Assert.Contains("Fixed(00:00:05)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
    }
}
