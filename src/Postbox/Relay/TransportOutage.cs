using Microsoft.Extensions.Logging;
using Postbox.Diagnostics;
using Postbox.Transport;

namespace Postbox.Relay;

/// <summary>
/// Whether the transport as a whole is down, as the relay's publishes found it. A publish that fails with
/// <see cref="TransportUnavailableException"/> reports here; the first report of an outage logs once that the
/// broker is down, the relay stops claiming and probes the transport, and <see cref="End"/> logs once that it is
/// back. Messages handed back meanwhile cost no attempt.
/// </summary>
internal sealed class TransportOutage
{
    // The messages reported in one outage are suspects if it turns out to be a flap (see SuspectMessages); more than
    // this many in flight at once is beyond what a relay holds by default (BatchSize × MaxInFlightBatches = 2,000).
    private const int MaxSuspects = 20_000;

    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<Guid> _reported = [];
    private bool _down;
    private long _since;
    private int _handedBack;

    public TransportOutage(TimeProvider timeProvider, ILogger logger) => (_timeProvider, _logger) = (timeProvider, logger);

    /// <summary>Whether an outage is under way: publish nothing more, claim nothing more.</summary>
    public bool IsDown => Volatile.Read(ref _down);

    /// <summary>
    /// Records that the transport is unavailable and, when <paramref name="messageId"/> is given, that this message's
    /// publish failed because of it and was handed back.
    /// </summary>
    public void Report(Guid? messageId, TransportUnavailableException exception)
    {
        bool first;
        lock (_lock)
        {
            first = !_down;
            if (first)
            {
                _since = _timeProvider.GetTimestamp();
                _handedBack = 0;
                _reported.Clear();
                Volatile.Write(ref _down, true);
            }

            if (messageId is { } id)
            {
                _handedBack++;
                // A message whose publish had not reached the broker cannot have broken the connection.
                if (_reported.Count < MaxSuspects && !exception.BeforePublish)
                {
                    _reported.Add(id);
                }
            }
        }

        if (first)
        {
            // An expected failure: one line with the reason, no stack trace.
            Log.TransportDown(_logger, exception.Message);
        }
    }

    /// <summary>Records that a message was handed back unattempted during the outage (its publish never started).</summary>
    public void Skipped()
    {
        lock (_lock)
        {
            _handedBack++;
        }
    }

    /// <summary>Ends the outage: the transport answered a probe. Returns the messages reported during it.</summary>
    public IReadOnlyList<Guid> End()
    {
        Guid[] reported;
        TimeSpan duration;
        int handedBack;
        lock (_lock)
        {
            if (!_down)
            {
                return [];
            }

            reported = [.. _reported];
            _reported.Clear();
            duration = _timeProvider.GetElapsedTime(_since);
            handedBack = _handedBack;
            Volatile.Write(ref _down, false);
        }

        Log.TransportBack(_logger, duration, handedBack);
        return reported;
    }
}
