using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using Postbox.Service.Hosting;

namespace Postbox.Service.Http;

/// <summary>
/// A small mailbox beside the dashboard, for the out-of-the-box <c>.eml</c> delivery: the mails written to the pickup
/// folder, newest first, each opened with its headers and decoded body, so a newcomer reads what was sent without a
/// mail server. Same credentials as the dashboard. Every value is HTML-encoded and bodies are shown as text, never
/// rendered: a mail is data from API callers.
/// </summary>
internal static partial class MailboxEndpoints
{
    private const int PageSize = 100;

    // Bodies larger than this are cut on the page (the raw file has everything).
    private const int MaxBodyChars = 256 * 1024;

    private const string Style = """
        body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}table{border-collapse:collapse;width:100%}
        td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4}
        pre{white-space:pre-wrap;background:#f8f8f8;padding:1rem;border:1px solid #ddd}a{color:#0b5cad}.muted{color:#777}
        """;

    public static void MapMailbox(this IEndpointRouteBuilder app, string prefix, MailSettings mail, string policy)
    {
        var group = app.MapGroup(prefix).RequireAuthorization(policy).ExcludeFromDescription();
        var folder = Path.GetFullPath(mail.PickupDirectory);
        var root = prefix.TrimEnd('/') + "/";
        group.MapGet("/", (int? skip) => Page("Mailbox", List(root, folder, mail.Delivery, Math.Max(0, skip ?? 0))));
        group.MapGet("/{name}", async (string name, CancellationToken cancellationToken) =>
            Resolve(folder, name) is { } path ? (IResult)Page(name, await OneAsync(root, path, name, cancellationToken).ConfigureAwait(false)) : Results.NotFound());
        group.MapGet("/{name}/raw", (string name, HttpContext context) =>
        {
            if (Resolve(folder, name) is not { } path)
            {
                return Results.NotFound();
            }

            // Text, whatever the mail holds: no browser sniffs it into HTML, and nothing in it may load or run.
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.ContentSecurityPolicy = "default-src 'none'";
            return Results.File(path, "text/plain; charset=utf-8");
        });
    }

    /// <summary>The file of <paramref name="name"/> when it is a plain <c>.eml</c> name directly in the folder; nothing else is served.</summary>
    internal static string? Resolve(string folder, string name)
    {
        if (!MailFileName().IsMatch(name))
        {
            return null;
        }

        var path = Path.Combine(folder, name);
        // Not a link: one planted in the folder (a shared --mail-dir) would serve any file the service can read. Not empty:
        // a named pipe, socket or device planted there has no length, and opening a pipe waits for a writer for ever.
        var file = new FileInfo(path);
        return file.Exists && file.LinkTarget is null && file.Length > 0 ? path : null;
    }

    private static string List(string root, string folder, MailDelivery delivery, int skip)
    {
        var html = new StringBuilder();
        if (delivery != MailDelivery.Pickup)
        {
            html.Append("<p>Mail goes to the SMTP server (<code>Mail:Delivery</code> is <code>Smtp</code>): nothing is written here.</p>");
        }

        var names = Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.eml").Select(Path.GetFileName).OfType<string>().Where(n => Resolve(folder, n) is not null)
                .OrderDescending(StringComparer.Ordinal).ToList()
            : [];
        html.Append(CultureInfo.InvariantCulture, $"<p class=muted>{names.Count:N0} mail(s) in <code>{Encode(folder)}</code>, newest first.</p>");
        html.Append("<table><tr><th>written</th><th>from</th><th>to</th><th>subject</th></tr>");
        foreach (var name in names.Skip(skip).Take(PageSize))
        {
            var headers = ReadHeaders(Path.Combine(folder, name));
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td><a href=\"{root}{Uri.EscapeDataString(name)}\">{Encode(File.GetLastWriteTimeUtc(Path.Combine(folder, name)).ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture))}</a></td>" +
                $"<td>{Encode(headers?[HeaderId.From])}</td><td>{Encode(headers?[HeaderId.To])}</td><td>{Encode(headers is null ? "(unreadable)" : headers[HeaderId.Subject])}</td></tr>");
        }

        html.Append("</table>");
        if (skip < names.Count - PageSize)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p><a href=\"{root}?skip={skip + PageSize}\">older</a></p>");
        }

        return html.ToString();
    }

    private static async Task<string> OneAsync(string root, string path, string name, CancellationToken cancellationToken)
    {
        var html = new StringBuilder($"<p><a href=\"{root}\">← mailbox</a> · <a href=\"{root}{Uri.EscapeDataString(name)}/raw\">raw .eml</a></p>");
        MimeMessage message;
        try
        {
            message = await MimeMessage.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            return html.Append(CultureInfo.InvariantCulture, $"<p>Not a readable mail: {Encode(ex.Message)}</p>").ToString();
        }

        html.Append("<table>");
        foreach (var (label, value) in new[]
        {
            ("From", message.From.ToString()), ("To", message.To.ToString()), ("Cc", message.Cc.ToString()), ("Subject", message.Subject),
            ("Date", message.Date.ToString("u", CultureInfo.InvariantCulture)), ("Message-ID", message.MessageId),
        })
        {
            if (!string.IsNullOrEmpty(value))
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><th>{label}</th><td>{Encode(value)}</td></tr>");
            }
        }

        var attachments = message.Attachments.Select(a => a is MimePart part ? part.FileName ?? part.ContentType.MimeType : a.ContentType.MimeType).ToList();
        if (attachments.Count > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>Attachments</th><td>{Encode(string.Join(", ", attachments))}</td></tr>");
        }

        html.Append("</table>");
        // The text part as sent (decoded from its transfer encoding and charset); an HTML-only mail's source, as text.
        var body = message.TextBody ?? message.HtmlBody ?? string.Empty;
        var cut = body.Length > MaxBodyChars;
        html.Append(CultureInfo.InvariantCulture, $"<pre>{Encode(cut ? body[..MaxBodyChars] : body)}</pre>");
        if (cut)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=muted>The body is cut at {MaxBodyChars:N0} characters; the raw .eml has all of it.</p>");
        }

        return html.ToString();
    }

    private static HeaderList? ReadHeaders(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return HeaderList.Load(stream);
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static MailboxPage Page(string title, string body) =>
        new MailboxPage($"<!doctype html><html><head><meta charset=utf-8><title>{Encode(title)} · Postbox</title><style>{Style}</style></head><body><h1>{Encode(title)}</h1>{body}</body></html>");

    private static string Encode(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    // The names MailSender writes: {time}-{kind}-{id:N}.eml. Anything else (a path, "..", another extension) is not served.
    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.eml\z", RegexOptions.CultureInvariant)]
    private static partial Regex MailFileName();

    /// <summary>An HTML page whose inline style is all it may load: no script runs, whatever a mail contains.</summary>
    private sealed class MailboxPage(string html) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "text/html; charset=utf-8";
            httpContext.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
            httpContext.Response.Headers.XContentTypeOptions = "nosniff";
            return httpContext.Response.WriteAsync(html, httpContext.RequestAborted);
        }
    }
}
