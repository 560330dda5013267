namespace Postbox.Service.Http;

/// <summary>What every endpoint that reads a JSON body declares, so the OpenAPI document lists it the same way.</summary>
internal static class JsonEndpointConventions
{
    /// <summary>
    /// Accepts <typeparamref name="TRequest"/> as <c>application/json</c> and may answer 400 (validation problem),
    /// 413 (body too large) or 415 (wrong content type), as <see cref="JsonBody"/> does.
    /// </summary>
    public static RouteHandlerBuilder AcceptsJson<TRequest>(this RouteHandlerBuilder builder)
        where TRequest : notnull =>
        builder.Accepts<TRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
}
