using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;

namespace Postbox.Service.Http;

/// <summary>
/// Reads a JSON request body with clear problem-details answers: <c>415</c> for another content type or a charset other
/// than UTF-8, <c>413</c> above the size limit, <c>400</c> for malformed JSON, wrong types, unknown or duplicate
/// properties, a missing body or a malformed HTTP body (bad chunk, fewer bytes than <c>Content-Length</c>), <c>408</c>
/// for a body sent slower than Kestrel's minimum data rate. The answers name JSON fields, never .NET types.
/// </summary>
internal static class JsonBody
{
    /// <summary>Web defaults, but strict: a misspelt or duplicated property is an error, not silently ignored.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.HasJsonContentType())
        {
            return (null, UnsupportedMediaType("The body must be JSON, sent with 'Content-Type: application/json'."));
        }

        // ASP.NET would transcode another charset; the API speaks UTF-8 only (RFC 8259), so say so instead of guessing.
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) && mediaType.Charset.HasValue
            && HeaderUtilities.RemoveQuotes(mediaType.Charset) is var charset
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            return (null, UnsupportedMediaType("The body must be UTF-8 JSON: send 'Content-Type: application/json' or 'application/json; charset=utf-8'."));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        try
        {
            // Deserialized from the body directly: the charset is checked above, and ReadFromJsonAsync would fail (500) on
            // a quoted one (charset="utf-8"), which RFC 9110 allows.
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, Options, cancellationToken).ConfigureAwait(false);
            return value is null
                ? (null, Invalid("body", "must be a JSON object, not null."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            var (field, error) = JsonErrors.Describe(typeof(T), ex);
            return (null, Invalid(field, error));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status408RequestTimeout, title: "Request body too slow.",
                detail: "The body arrived slower than the server's minimum data rate; send it at once."));
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel's message names the HTTP-level fault (bad chunk size, body shorter than Content-Length), not the input.
            return (null, MalformedBody(ex.Message));
        }
        catch (IOException ex) when (!request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // Kestrel reports a chunk size that overflows as a plain IOException ("Bad chunk size data"); a client that
            // went away also surfaces as one, but then RequestAborted is set and nobody reads the answer.
            return (null, MalformedBody(ex.Message));
        }
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult MalformedBody(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed request body.", detail: detail);

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type.", detail: detail);

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult TooLarge(long maxBytes) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large.",
            detail: $"The body must not exceed {maxBytes} bytes.");

    private static Microsoft.AspNetCore.Http.HttpResults.ValidationProblem Invalid(string field, string error) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [error] },
            title: "The request body is invalid.", detail: $"{field}: {error}");
}
