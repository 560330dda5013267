using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Postbox.IntegrationTests.Infrastructure;

/// <summary>Records the event id and text of every log entry, so a test can count what was logged.</summary>
public sealed class LogCollector : ILoggerProvider
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Text, bool HasException, DateTime At)> Entries { get; } = new();

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    /// <summary>The entries as lines with their time, at most <paramref name="perEvent"/> of each event id.</summary>
    public IEnumerable<string> Lines(int perEvent = 3) =>
        Entries.GroupBy(e => e.EventId).SelectMany(g => g.Take(perEvent)).OrderBy(e => e.At)
            .Select(e => $"{e.At:HH:mm:ss.fff} {e.EventId} {e.Level}: {(e.Text.Length > 240 ? e.Text[..240] + "…" : e.Text)}");

    public ILogger CreateLogger(string categoryName) => new Collector(this);

    public void Dispose()
    {
    }

    private sealed class Collector(LogCollector owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception), exception is not null, DateTime.UtcNow));
    }
}
