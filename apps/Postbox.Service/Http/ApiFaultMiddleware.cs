using Microsoft.Extensions.Options;
using Postbox.Service.Data;
using Postbox.Service.Hosting;

namespace Postbox.Service.Http;

/// <summary>
/// Answers the faults of the database the API depends on, for the endpoints marked with
/// <see cref="DatabaseEndpoint"/>: a broken pooled connection (stale after a restart) clears the pool and the request is
/// run again on a fresh connection (at most 10 times), provided nothing was committed yet; a database that cannot be reached gives
/// <c>503</c> with <c>Retry-After</c> and one log line per outage (<see cref="DatabaseOutage"/>), not a 500 with a stack
/// trace per request.
/// </summary>
internal sealed class ApiFaultMiddleware(RequestDelegate next, AppDatabase database, DatabaseOutage outage, IOptions<ApiSettings> api, ILogger<ApiFaultMiddleware> logger)
{
    // One retry is not always enough: under concurrent requests right after a restart, a retry could still be handed
    // another stale connection (measured: 2 of 24 requests with a single retry; Npgsql's Clear skips the drain when
    // another Clear is running, and a connection returned during a Clear can land in the idle list). A stale connection
    // fails at its first round trip and is then discarded, so each retry is cheap and the supply of stale ones runs
    // out. A database that is really down fails the retry with "connection refused", which is not a broken connection:
    // the loop ends at once with a 503. Endpoints do no database work after their commit (they read what they answer
    // with inside the transaction), because a request that committed cannot be run again.
    private const int MaxStaleRetries = 10;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<DatabaseEndpoint>() is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (context.Request.ContentLength is not 0 && !HttpMethods.IsGet(context.Request.Method))
        {
            // So the body can be read again if the request is replayed; Kestrel's size limit still applies.
            context.Request.EnableBuffering();
        }

        var committed = AppDatabase.TrackCommits();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await next(context).ConfigureAwait(false);
                // Answers that come after the database answered; a 400 from validation proves nothing about it.
                if (context.Response.StatusCode is < 400 or StatusCodes.Status404NotFound or StatusCodes.Status409Conflict)
                {
                    outage.Reachable();
                }

                return;
            }
            catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested && DatabaseFaults.IsUnavailable(ex))
            {
                var broken = DatabaseFaults.IsBrokenConnection(ex);
                if (broken)
                {
                    database.ClearPool();
                }

                if (broken && attempt <= MaxStaleRetries && !committed.Value && (context.Request.Body.CanSeek || context.Request.ContentLength is 0 or null && HttpMethods.IsGet(context.Request.Method)))
                {
                    ServiceLog.StaleConnectionRetried(logger, context.Request.Method, context.Request.Path, DatabaseFaults.Describe(ex));
                    if (context.Request.Body.CanSeek)
                    {
                        // A new stream instance, not just a rewind: the request's PipeReader wraps the stream it first saw
                        // and keeps what it read; a new instance gets a new reader.
                        context.Request.Body.Position = 0;
                        var replay = new MemoryStream();
                        await context.Request.Body.CopyToAsync(replay, context.RequestAborted).ConfigureAwait(false);
                        replay.Position = 0;
                        context.Response.RegisterForDisposeAsync(replay);
                        context.Request.Body = replay;
                    }

                    context.Response.Clear();
                    continue;
                }

                await UnavailableAsync(context, ex).ConfigureAwait(false);
                return;
            }
        }
    }

    private async Task UnavailableAsync(HttpContext context, Exception exception)
    {
        var retryAfter = api.Value.DatabaseRetryAfter;
        outage.Unreachable(exception, retryAfter);
        context.Response.Clear();
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Database unavailable.",
                detail: $"The database cannot be reached right now; nothing was stored. Retry after {(int)Math.Ceiling(retryAfter.TotalSeconds)} seconds.")
            .ExecuteAsync(context).ConfigureAwait(false);
    }
}
