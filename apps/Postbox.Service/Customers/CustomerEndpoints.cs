using Microsoft.Extensions.Options;
using Postbox.Service.Data;
using Postbox.Service.Hosting;
using Postbox.Service.Http;

namespace Postbox.Service.Customers;

/// <summary><c>POST /customers</c> and <c>GET /customers/{id}</c>.</summary>
internal static class CustomerEndpoints
{
    public static void MapCustomerEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/customers").WithTags("Customers").UsesDatabase();
        group.MapPost("/", CreateAsync)
            .WithName("CreateCustomer")
            .WithSummary("Creates a customer and publishes CustomerCreated through the outbox, in one transaction.")
            .AcceptsJson<CreateCustomerRequest>()
            .Produces<CustomerView>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/{id}", GetByRouteAsync)
            .WithName("GetCustomer")
            .WithSummary("A customer, with how many times its CustomerCreated event took effect (1).")
            .Produces<CustomerView>()
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, AppDatabase database, CustomerStore customers, IOutbox outbox, TimeProvider timeProvider,
        IOptions<ApiSettings> api, ILogger<CustomerStore> logger, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<CreateCustomerRequest>(request, api.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new FieldErrors();
        var email = errors.Address("email", body!.Email, plain: true)?.ToLowerInvariant();
        var name = errors.Line("name", body.Name, 200);
        if (!errors.IsEmpty)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary(), title: "The customer is invalid.");
        }

        var customer = new CustomerCreated(Guid.CreateVersion7(), name!.Trim(), email!, timeProvider.GetUtcNow());
        CustomerView? created;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        await using (var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            if (!await customers.InsertAsync(transaction, customer, cancellationToken).ConfigureAwait(false))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "E-mail address already used.",
                    detail: "A customer with this e-mail address exists.");
            }

            await outbox.EnqueueAsync(transaction, OutboxMessage.FromJson(Topics.CustomerCreated, customer, key: customer.Id.ToString("D"), type: nameof(CustomerCreated)),
                cancellationToken).ConfigureAwait(false);
            created = await customers.GetAsync(transaction, customer.Id, cancellationToken).ConfigureAwait(false);
            await AppDatabase.CommitAsync(transaction).ConfigureAwait(false);
        }

        ServiceLog.CustomerCreated(logger, customer.Id);
        return TypedResults.Created($"/customers/{customer.Id}", created);
    }

    private static async Task<IResult> GetByRouteAsync(string id, CustomerStore customers, CancellationToken cancellationToken) =>
        RouteId.TryParse(id, out var parsed, out var problem) ? await GetAsync(parsed, customers, cancellationToken).ConfigureAwait(false) : problem!;

    private static async Task<IResult> GetAsync(Guid id, CustomerStore customers, CancellationToken cancellationToken) =>
        await customers.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } view
            ? TypedResults.Ok(view)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such customer.", detail: $"There is no customer {id}.");
}
