namespace Postbox.Kafka.Tests.Infrastructure;

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!await condition())
        {
            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {timeout} waiting until {what}.");
            }

            await Task.Delay(50);
        }
    }
}
