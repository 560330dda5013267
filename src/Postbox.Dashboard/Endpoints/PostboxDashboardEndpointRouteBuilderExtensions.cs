using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Postbox.Dashboard;
using Postbox.Monitoring;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Mounts the Postbox dashboard in an ASP.NET Core app.</summary>
public static class PostboxDashboardEndpointRouteBuilderExtensions
{
    private const int MaxMessagesPerAction = 1000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    // Action bodies: a mistyped member ("topik") is an error, not a filter left out (which would widen a replay-all).
    private static readonly JsonSerializerOptions RequestJson = new(Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    private const string NulRefused = "A topic, consumer or key must not contain a NUL character.";

    /// <summary>
    /// Maps the dashboard's pages (<c>{prefix}/</c>), assets (<c>{prefix}/assets/…</c>) and JSON API
    /// (<c>{prefix}/api/…</c>; actions are POSTs that need the antiforgery token the page carries).
    /// Call <c>services.AddPostboxDashboard(...)</c> first.
    /// </summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="prefix">The path, e.g. <c>/postbox</c>.</param>
    /// <returns>The group, for further conventions.</returns>
    /// <exception cref="InvalidOperationException">No authorization policy is configured and anonymous access on loopback
    /// was not allowed explicitly, or the options are invalid (every error is listed).</exception>
    public static RouteGroupBuilder MapPostboxDashboard(this IEndpointRouteBuilder endpoints, string prefix = "/postbox")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        var options = endpoints.ServiceProvider.GetService<IOptions<PostboxDashboardOptions>>()?.Value
            ?? throw new InvalidOperationException("Call services.AddPostboxDashboard(...) before app.MapPostboxDashboard(...).");
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("The Postbox dashboard cannot start:\n  " + string.Join("\n  ", errors));
        }

        prefix = "/" + prefix.Trim('/');
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Postbox.Dashboard");
        var group = endpoints.MapGroup(prefix).ExcludeFromDescription();
        if (options.AuthorizationPolicy is { } policy)
        {
            group.RequireAuthorization(policy);
        }
        else
        {
            DashboardLog.AnonymousOnLoopback(logger, prefix);
            group.AllowAnonymous();
            group.AddEndpointFilter(async (context, next) =>
            {
                var remote = context.HttpContext.Connection.RemoteIpAddress;
                if (remote is null || !IPAddress.IsLoopback(remote))
                {
                    DashboardLog.NotLoopback(logger, remote?.ToString());
                    return Results.StatusCode(StatusCodes.Status403Forbidden);
                }

                return await next(context).ConfigureAwait(false);
            });
        }

        MapPages(group, prefix, options);
        MapQueries(group, options);
        ActivityEndpoints.Map(group);
        MapActions(group, logger);
        return group;
    }

    private static void MapPages(RouteGroupBuilder group, string prefix, PostboxDashboardOptions options)
    {
        IResult Index(HttpContext context, DashboardAssets assets, IAntiforgery antiforgery)
        {
            assets.TryGet("index.html", out var content, out var contentType);
            var tokens = antiforgery.GetAndStoreTokens(context);
            var html = Encoding.UTF8.GetString(content)
                .Replace("{{base}}", WebUtility.HtmlEncode(context.Request.PathBase + prefix), StringComparison.Ordinal)
                .Replace("{{token}}", WebUtility.HtmlEncode(tokens.RequestToken ?? string.Empty), StringComparison.Ordinal)
                .Replace("{{refresh}}", ((int)options.RefreshInterval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{{pageSize}}", options.PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
            return Results.Content(html, contentType);
        }

        group.MapGet("/", Index);
        group.MapGet("/assets/{file}", (string file, DashboardAssets assets) =>
            file != "index.html" && assets.TryGet(file, out var content, out var contentType)
                ? Results.Bytes(content, contentType)
                : Results.NotFound());
    }

    private static void MapQueries(RouteGroupBuilder group, PostboxDashboardOptions options)
    {
        var api = group.MapGroup("/api");
        api.MapGet("/overview", async (IPostboxMonitor monitor, CancellationToken cancellationToken) =>
        {
            var outbox = await monitor.GetOverviewAsync(MessageSide.Outbox, options.CountLimit, cancellationToken).ConfigureAwait(false);
            var inbox = await monitor.GetOverviewAsync(MessageSide.Inbox, options.CountLimit, cancellationToken).ConfigureAwait(false);
            return Results.Json(new { outbox, inbox, options.CountLimit }, Json);
        });

        // What is paused (IPostboxPauses); an empty list when the store keeps no pauses.
        api.MapGet("/pauses", async (HttpContext context, CancellationToken cancellationToken) =>
            context.RequestServices.GetService<IPostboxPauses>() is { } pauses
                ? Results.Json(await pauses.ListAsync(cancellationToken).ConfigureAwait(false), Json)
                : Results.Json(Array.Empty<PausedName>(), Json));

        api.MapGet("/{side}/messages", async (string side, string? state, string? topic, string? consumer, string? key, string? after, int? limit,
            IPostboxMonitor monitor, CancellationToken cancellationToken) =>
        {
            if (!TryParseSide(side, out var s) || !TryParseState(state ?? "dead", out var st) || limit is < 1 or > MessageQuery.MaxLimit)
            {
                return Results.Problem(statusCode: 400, title: "Unknown side or state, or a page size outside 1 to 500.");
            }

            if (HasNul(topic, consumer, key))
            {
                return Results.Problem(statusCode: 400, title: NulRefused);
            }

            try
            {
                var page = await monitor.ListAsync(new MessageQuery(s, st, new MessageFilter(Blank(topic), Blank(consumer), Blank(key)), Blank(after),
                    limit ?? options.PageSize), cancellationToken).ConfigureAwait(false);
                return Results.Json(page, Json);
            }
            catch (ArgumentException e)
            {
                return Results.Problem(statusCode: 400, title: e.Message);
            }
        });

        api.MapGet("/{side}/find/{id:guid}", async (string side, Guid id, IPostboxMonitor monitor, CancellationToken cancellationToken) =>
            TryParseSide(side, out var s)
                ? Results.Json(await monitor.FindAsync(s, id, cancellationToken).ConfigureAwait(false), Json)
                : Results.NotFound());

        api.MapGet("/{side}/messages/{id:guid}", async (string side, Guid id, string? consumer, IPostboxMonitor monitor, CancellationToken cancellationToken) =>
        {
            if (!TryParseSide(side, out var s))
            {
                return Results.NotFound();
            }

            var detail = await monitor.GetAsync(s, new MessageRef(id, Blank(consumer)), cancellationToken).ConfigureAwait(false);
            return detail is null
                ? Results.NotFound()
                : Results.Json(new
                {
                    detail.Summary,
                    detail.Headers,
                    Payload = PayloadView.From(detail.Payload, detail.PayloadLength),
                    detail.MaxAttempts,
                    detail.LeaseOwner,
                    detail.Errors,
                    detail.Replays,
                }, Json);
        });
    }

    private static void MapActions(RouteGroupBuilder group, ILogger logger)
    {
        var actions = group.MapGroup("/api/{side}");
        actions.AddEndpointFilter(async (context, next) =>
        {
            // Actions change data: the page's antiforgery token (header RequestVerificationToken) must come with them, so a
            // page of another site cannot make an operator's browser replay or delete messages.
            var http = context.HttpContext;
            var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
            if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
            {
                DashboardLog.AntiforgeryRefused(logger, http.Request.Method, http.Request.Path);
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Missing or invalid antiforgery token.");
            }

            return await next(context).ConfigureAwait(false);
        });

        void Map(string name, Func<IPostboxMonitor, MessageSide, IReadOnlyCollection<MessageRef>, CancellationToken, Task<int>> action) =>
            actions.MapPost("/" + name, async (string side, HttpContext context, IPostboxMonitor monitor, CancellationToken cancellationToken) =>
            {
                if (!TryParseSide(side, out var s))
                {
                    return Results.NotFound();
                }

                var body = await ReadAsync<MessagesRequest>(context, cancellationToken).ConfigureAwait(false);
                if (body?.Messages is not { Count: > 0 and <= MaxMessagesPerAction } messages
                    || (s == MessageSide.Inbox && messages.Any(m => string.IsNullOrEmpty(m.Consumer))))
                {
                    return Results.Problem(statusCode: 400, title: $"Give 1 to {MaxMessagesPerAction} messages (with their consumer on the inbox side).");
                }

                if (s == MessageSide.Inbox && HasNul([.. messages.Select(m => m.Consumer)]))
                {
                    return Results.Problem(statusCode: 400, title: NulRefused);
                }

                var refs = messages.Select(m => new MessageRef(m.Id, s == MessageSide.Inbox ? m.Consumer : null)).ToList();
                var count = await action(monitor, s, refs, cancellationToken).ConfigureAwait(false);
                DashboardLog.ActionRan(logger, User(context), name, side, count, refs.Count);
                return Results.Json(new { count }, Json);
            });

        Map("replay", (m, s, r, c) => m.ReplayDeadAsync(s, r, c));
        Map("retry", (m, s, r, c) => m.RetryNowAsync(s, r, c));
        Map("delete", (m, s, r, c) => m.DeleteAsync(s, r, c));
        // Pause and resume of an outbox topic's publishing or an inbox consumer's consuming: durable, seen by every relay
        // and worker (IPostboxPauses). The user is recorded as paused_by and logged.
        void MapPause(string name, bool pause) =>
            actions.MapPost("/" + name, async (string side, HttpContext context, CancellationToken cancellationToken) =>
            {
                if (!TryParseSide(side, out var s))
                {
                    return Results.NotFound();
                }

                if (context.RequestServices.GetService<IPostboxPauses>() is not { } pauses)
                {
                    return Results.Problem(statusCode: StatusCodes.Status501NotImplemented, title: "This store keeps no pauses.");
                }

                var body = await ReadAsync<PauseRequest>(context, cancellationToken).ConfigureAwait(false);
                if (body?.Name is not { Length: > 0 and <= IPostboxPauses.MaxNameLength } target)
                {
                    return Results.Problem(statusCode: 400, title: $"Give the {(s == MessageSide.Outbox ? "topic" : "consumer")} name (1 to {IPostboxPauses.MaxNameLength} characters).");
                }

                if (HasNul(target))
                {
                    // PostgreSQL cannot hold it in text (a 500 otherwise), and no topic or consumer has one.
                    return Results.Problem(statusCode: 400, title: NulRefused);
                }

                if (string.IsNullOrWhiteSpace(target))
                {
                    // No topic or consumer is blank: such a pause would match nothing and be listed as an empty row.
                    return Results.Problem(statusCode: 400, title: "A topic or consumer name is never blank (only white space).");
                }

                var user = User(context);
                var changed = pause
                    ? await pauses.PauseAsync(s, target, user.Length > 200 ? user[..200] : user, cancellationToken).ConfigureAwait(false)
                    : await pauses.ResumeAsync(s, target, cancellationToken).ConfigureAwait(false);
                DashboardLog.PauseChanged(logger, user, name, side, target, changed);
                return Results.Json(new { changed }, Json);
            });

        MapPause("pause", pause: true);
        MapPause("resume", pause: false);
        actions.MapPost("/replay-all", async (string side, HttpContext context, IPostboxMonitor monitor, CancellationToken cancellationToken) =>
        {
            if (!TryParseSide(side, out var s))
            {
                return Results.NotFound();
            }

            // The filter is required ({} for every dead message): a body that cannot be read must not replay everything.
            if (await ReadAsync<ReplayAllRequest>(context, cancellationToken).ConfigureAwait(false) is not { } body)
            {
                return Results.Problem(statusCode: 400, title: "Give the filter as a JSON object with optional topic, consumer and key ({} for every dead message).");
            }

            if (HasNul(body.Topic, body.Consumer, body.Key))
            {
                return Results.Problem(statusCode: 400, title: NulRefused);
            }

            if (s == MessageSide.Outbox && Blank(body.Consumer) is not null)
            {
                // Outbox rows have no consumer: ignoring it would replay every dead message the other filters match.
                return Results.Problem(statusCode: 400, title: "Outbox messages have no consumer: filter them by topic or key.");
            }

            var filter = new MessageFilter(Blank(body.Topic), Blank(body.Consumer), Blank(body.Key));
            var count = await monitor.ReplayAllDeadAsync(s, filter, null, cancellationToken).ConfigureAwait(false);
            DashboardLog.ReplayedAll(logger, User(context), side, filter.Topic, filter.Consumer, filter.Key, count);
            return Results.Json(new { count }, Json);
        });
    }

    private static async Task<T?> ReadAsync<T>(HttpContext context, CancellationToken cancellationToken)
        where T : class
    {
        if (context.Request.ContentLength is 0 || !context.Request.HasJsonContentType())
        {
            return null;
        }

        try
        {
            return await context.Request.ReadFromJsonAsync<T>(RequestJson, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null; // Answered with a 400 by the caller.
        }
    }

    private static string User(HttpContext context) => context.User.Identity?.Name ?? "anonymous";

    // PostgreSQL's text cannot hold NUL: such a filter matches nothing anywhere, and sent as a parameter it fails the statement.
    private static bool HasNul(params string?[] values) => values.Any(v => v is not null && v.Contains('\0', StringComparison.Ordinal));

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static bool TryParseSide(string text, out MessageSide side) =>
        Enum.TryParse(text, ignoreCase: true, out side) && Enum.IsDefined(side) && !char.IsDigit(text[0]);

    private static bool TryParseState(string text, out MessageState state) =>
        Enum.TryParse(text.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out state) && Enum.IsDefined(state) && !char.IsDigit(text[0]);
}
