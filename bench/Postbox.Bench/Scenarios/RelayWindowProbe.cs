using System.Diagnostics.Metrics;

namespace Postbox.Bench.Scenarios;

/// <summary>
/// The in-process relay's claims and batches per sampling window, from its own metrics (meter <c>Postbox</c>): how many,
/// and the slowest of each. A stall shows as few claims, or one slow claim or batch, in the window where it happened.
/// </summary>
internal sealed class RelayWindowProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private long _claims;
    private double _claimMax;
    private long _batches;
    private double _batchMax;

    public RelayWindowProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Postbox" && instrument.Name is "postbox.relay.claim.duration" or "postbox.relay.batch.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, seconds, _, _) =>
        {
            lock (_gate)
            {
                if (instrument.Name == "postbox.relay.claim.duration")
                {
                    (_claims, _claimMax) = (_claims + 1, Math.Max(_claimMax, seconds));
                }
                else
                {
                    (_batches, _batchMax) = (_batches + 1, Math.Max(_batchMax, seconds));
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The window since the last call: claims, slowest claim (ms), batches, slowest batch (ms).</summary>
    public (long Claims, double ClaimMaxMs, long Batches, double BatchMaxMs) Take()
    {
        lock (_gate)
        {
            var window = (_claims, _claimMax * 1000, _batches, _batchMax * 1000);
            (_claims, _claimMax, _batches, _batchMax) = (0, 0, 0, 0);
            return window;
        }
    }

    public void Dispose() => _listener.Dispose();
}
