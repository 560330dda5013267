using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Postbox.Consumers;

namespace Postbox.Tests.Consumers;

public sealed class FailureLogLimiterTests
{
    [Fact]
    public void Limiter_ThousandIdenticalFailures_FiveLinesThenOneSummaryWithTheCount()
    {
        var logger = new ListLogger();
        // A window of an hour: only the explicit Flush ends it.
        using var limiter = new FailureLogLimiter(TimeProvider.System, logger, TimeSpan.FromHours(1), individuallyPerWindow: 5);
        var logged = Enumerable.Range(0, 1000).Count(_ => limiter.ShouldLog("mail-sender", "SmtpException: Failure sending mail."));
        limiter.Flush();

        Assert.Equal(5, logged);
        var summary = Assert.Single(logger.Lines);
        Assert.Contains("mail-sender: 1000 attempts failed in the last 01:00:00: SmtpException: Failure sending mail. (995 not logged", summary, StringComparison.Ordinal);

        // A new window logs individually again.
        Assert.True(limiter.ShouldLog("mail-sender", "SmtpException: Failure sending mail."));
    }

    [Fact]
    public void Limiter_DifferentReasonsAndScopes_CountedApart_FewFailuresNoSummary()
    {
        var logger = new ListLogger();
        using var limiter = new FailureLogLimiter(TimeProvider.System, logger, TimeSpan.FromHours(1), individuallyPerWindow: 2);
        Assert.True(limiter.ShouldLog("a", "x"));
        Assert.True(limiter.ShouldLog("a", "y"));
        Assert.True(limiter.ShouldLog("b", "x"));
        Assert.True(limiter.ShouldLog("a", "x"));
        Assert.False(limiter.ShouldLog("a", "x"));
        limiter.Flush();
        Assert.Contains("a: 3 attempts failed", Assert.Single(logger.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Limiter_ReasonsWithIds_TableStaysBounded_RestSharedAsOther()
    {
        var logger = new ListLogger();
        using var limiter = new FailureLogLimiter(TimeProvider.System, logger, TimeSpan.FromHours(1), individuallyPerWindow: 1);
        for (var i = 0; i < 10_000; i++)
        {
            limiter.ShouldLog("c", $"failure {i}");
        }

        limiter.Flush();
        Assert.Contains("(other failures)", Assert.Single(logger.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public void FailureReason_OutagesAreExpected_BugsAreNot()
    {
        Assert.True(FailureReason.IsExpected(new System.Net.Mail.SmtpException("Failure sending mail.", new SocketException(111))));
        Assert.True(FailureReason.IsExpected(new InvalidOperationException("wrapped", new TimeoutException())));
        Assert.True(FailureReason.IsExpected(new IOException("reset")));
        Assert.False(FailureReason.IsExpected(new KeyNotFoundException("a bug")));
        Assert.False(FailureReason.IsExpected(new InvalidOperationException("a bug")));
        Assert.Equal("InvalidOperationException: outer (TimeoutException: inner)", FailureReason.Describe(new InvalidOperationException("outer", new TimeoutException("inner"))));
        Assert.DoesNotContain('\n', FailureReason.Describe(new InvalidOperationException("two\nlines")));
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
    }
}
