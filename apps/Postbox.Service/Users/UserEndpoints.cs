using Microsoft.Extensions.Options;
using Postbox.Service.Hosting;
using Postbox.Service.Http;

namespace Postbox.Service.Users;

/// <summary><c>POST /api/v1/users</c> and <c>GET /api/v1/users/{id}</c>.</summary>
internal static class UserEndpoints
{
    public static void MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/users").WithTags("Users").UsesDatabase();
        group.MapPost("/", RegisterAsync)
            .WithName("RegisterUser")
            .WithSummary("Registers a user (salted PBKDF2 hash) and queues the welcome mail in the same transaction.")
            .AcceptsJson<RegisterUserRequest>()
            .Produces<UserView>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/{id}", GetByRouteAsync)
            .WithName("GetUser")
            .WithSummary("A user and the status of its welcome mail.")
            .Produces<UserView>()
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> RegisterAsync(HttpRequest request, UserService service, IOptions<ApiSettings> api, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<RegisterUserRequest>(request, api.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new FieldErrors();
        var email = errors.Address("email", body!.Email, plain: true)?.ToLowerInvariant();
        if (body.Password is null)
        {
            errors.Add("password", "is required.");
        }
        else if (body.Password.Length is < 8 or > 128)
        {
            errors.Add("password", "must be 8 to 128 characters.");
        }
        else if (body.Password.Any(char.IsControl) || !IsWellFormed(body.Password))
        {
            // NUL and the other control characters cannot be typed and are cut or mangled by other systems (C strings,
            // terminals); a lone surrogate would be hashed as U+FFFD, so two different passwords would match.
            errors.Add("password", "must not contain control characters (such as NUL, tab or line breaks) or invalid Unicode.");
        }

        if (!errors.IsEmpty)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary(), title: "The registration is invalid.");
        }

        if (await service.RegisterAsync(email!, body.Password!, cancellationToken).ConfigureAwait(false) is not { } view)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "E-mail address already registered.",
                detail: "A user with this e-mail address exists.");
        }

        return TypedResults.Created($"/api/v1/users/{view.Id}", view);
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<IResult> GetByRouteAsync(string id, UserStore users, CancellationToken cancellationToken) =>
        RouteId.TryParse(id, out var parsed, out var problem) ? await GetAsync(parsed, users, cancellationToken).ConfigureAwait(false) : problem!;

    private static async Task<IResult> GetAsync(Guid id, UserStore users, CancellationToken cancellationToken) =>
        await users.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } view
            ? TypedResults.Ok(view)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such user.", detail: $"There is no user {id}.");
}
