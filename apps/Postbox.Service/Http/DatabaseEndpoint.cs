namespace Postbox.Service.Http;

/// <summary>Endpoint metadata: the endpoint needs the database, so <see cref="ApiFaultMiddleware"/> answers its outages.</summary>
internal sealed class DatabaseEndpoint
{
    private DatabaseEndpoint()
    {
    }

    public static DatabaseEndpoint Instance { get; } = new();
}

/// <summary>Marks endpoints (or groups) with <see cref="DatabaseEndpoint"/> and documents their <c>503</c>.</summary>
internal static class DatabaseEndpointConventions
{
    public static TBuilder UsesDatabase<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(DatabaseEndpoint.Instance)
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status503ServiceUnavailable, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
}
