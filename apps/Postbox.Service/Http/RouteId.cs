namespace Postbox.Service.Http;

/// <summary>
/// Reads the <c>{id}</c> of a route. The routes take any text there, rather than a <c>:guid</c> constraint, because a
/// constraint that fails answers a bare <c>404</c>: a malformed id is bad input, and bad input gets a <c>400</c> naming
/// the field, as everywhere else in the API.
/// </summary>
internal static class RouteId
{
    /// <summary>Parses <paramref name="text"/> as a UUID; on failure <paramref name="problem"/> is the <c>400</c> to answer.</summary>
    public static bool TryParse(string text, out Guid id, out IResult? problem)
    {
        if (Guid.TryParse(text, out id))
        {
            problem = null;
            return true;
        }

        problem = TypedResults.ValidationProblem(
            new Dictionary<string, string[]> { ["id"] = ["The id must be a UUID, e.g. 01a22ab9-e7ad-7a95-98e4-54bc4029ff2e."] },
            title: "The id is invalid.");
        return false;
    }
}
