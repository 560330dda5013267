using Postbox.Relay;

namespace Postbox.Tests.Relay;

public sealed class RelaySignalTests
{
    [Fact]
    public async Task Notify_BeforeWait_IsNotLost_AndManySignalsCoalesce()
    {
        using var signal = new RelaySignal(TimeProvider.System);
        signal.Notify();
        signal.Notify();
        signal.Notify();

        Assert.True(await signal.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.False(await signal.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None));
    }

    [Fact]
    public async Task Wait_ReturnsWhenNotifiedFromAnotherThread()
    {
        using var signal = new RelaySignal(TimeProvider.System);
        var waiting = signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None);

        _ = Task.Run(signal.Notify);

        Assert.True(await waiting);
        Assert.True(signal.SinceLastSignal < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Wait_HonoursCancellation()
    {
        using var signal = new RelaySignal(TimeProvider.System);
        using var cts = new CancellationTokenSource();
        var waiting = signal.WaitAsync(TimeSpan.FromMinutes(1), cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
