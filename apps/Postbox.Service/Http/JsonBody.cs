using System.Text.Json;
using System.Text.Json.Serialization;

namespace Postbox.Service.Http;

/// <summary>
/// Reads a JSON request body with clear problem-details answers: <c>415</c> for another content type, <c>413</c> above
/// the size limit, <c>400</c> for malformed JSON, unknown or duplicate properties, or a missing body. The framework's
/// own body binding would answer the same codes without saying what was wrong.
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
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type.",
                detail: "The body must be JSON, sent with 'Content-Type: application/json'."));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        try
        {
            var value = await request.ReadFromJsonAsync<T>(Options, cancellationToken).ConfigureAwait(false);
            return value is null
                ? (null, BadRequest("The body must be a JSON object, not null."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            // The message names the path and position; it never echoes the input itself.
            return (null, BadRequest($"The body is not valid JSON for this request: {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult TooLarge(long maxBytes) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large.",
            detail: $"The body must not exceed {maxBytes} bytes.");

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The request body is invalid.", detail: detail);
}
