using Microsoft.Extensions.Options;
using Postbox.Service.Hosting;
using Postbox.Service.Http;

namespace Postbox.Service.Mail;

/// <summary><c>POST /api/mail/send</c>, <c>GET /api/mail/{id}</c> and <c>POST /api/mail/{id}/resend</c>.</summary>
internal static class MailEndpoints
{
    public static void MapMailEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/mail").WithTags("Mail").UsesDatabase();
        group.MapPost("/send", SendAsync)
            .WithName("SendMail")
            .WithSummary("Queues a mail: the delivery and its outbox message are written in one transaction.")
            .AcceptsJson<SendMailRequest>()
            .Produces<MailAccepted>(StatusCodes.Status202Accepted);
        group.MapGet("/{id}", GetByRouteAsync)
            .WithName("GetMail")
            .WithSummary("Status of a delivery: queued, sending, sent, failed or unconfirmed, with attempts and error history.")
            .Produces<MailDeliveryView>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id}/resend", ResendByRouteAsync)
            .WithName("ResendMail")
            .WithSummary("Queues a failed or unconfirmed delivery again (an operator's decision: an unconfirmed mail may have arrived).")
            .Produces<MailAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<IResult> ResendByRouteAsync(string id, MailService mail, MailDeliveryStore deliveries, CancellationToken cancellationToken) =>
        RouteId.TryParse(id, out var delivery, out var problem) ? await ResendAsync(delivery, mail, deliveries, cancellationToken).ConfigureAwait(false) : problem!;

    private static async Task<IResult> ResendAsync(Guid id, MailService mail, MailDeliveryStore deliveries, CancellationToken cancellationToken)
    {
        if (await mail.RequeueAsync(id, cancellationToken).ConfigureAwait(false))
        {
            var url = $"/api/mail/{id}";
            return TypedResults.Accepted(url, new MailAccepted(id, "queued", url));
        }

        return await deliveries.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } view
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Only a failed or unconfirmed delivery can be resent.",
                detail: $"Mail delivery {id} is {view.Status}.")
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such delivery.", detail: $"There is no mail delivery {id}.");
    }

    private static async Task<IResult> SendAsync(HttpRequest request, MailService mail, IOptions<ApiSettings> api, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<SendMailRequest>(request, api.Value.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var (valid, errors) = MailRequestValidator.Validate(body!);
        if (valid is null)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary(), title: "The mail is invalid.");
        }

        var id = await mail.QueueAsync(valid, cancellationToken).ConfigureAwait(false);
        var url = $"/api/mail/{id}";
        return TypedResults.Accepted(url, new MailAccepted(id, "queued", url));
    }

    private static async Task<IResult> GetByRouteAsync(string id, MailDeliveryStore deliveries, CancellationToken cancellationToken) =>
        RouteId.TryParse(id, out var delivery, out var problem) ? await GetAsync(delivery, deliveries, cancellationToken).ConfigureAwait(false) : problem!;

    private static async Task<IResult> GetAsync(Guid id, MailDeliveryStore deliveries, CancellationToken cancellationToken) =>
        await deliveries.GetAsync(id, cancellationToken).ConfigureAwait(false) is { } view
            ? TypedResults.Ok(view)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such delivery.", detail: $"There is no mail delivery {id}.");
}
