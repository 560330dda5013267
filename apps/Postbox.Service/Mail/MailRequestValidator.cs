using Postbox.Service.Http;

namespace Postbox.Service.Mail;

/// <summary>Validates <c>POST /api/mail/send</c>: addresses, 1 to 50 recipients, sizes, no CR/LF in header fields.</summary>
internal static class MailRequestValidator
{
    public const int MaxRecipients = 50;
    public const int MaxSubjectLength = 998; // RFC 5322's line limit
    public const int MaxContentLength = 512 * 1024;

    public static (ValidMail? Mail, FieldErrors Errors) Validate(SendMailRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new FieldErrors();
        var from = errors.Address("from", request.From, plain: false);
        var to = new List<string>();
        if (request.To is null || request.To.Length == 0)
        {
            errors.Add("to", "must list at least one recipient.");
        }
        else if (request.To.Length > MaxRecipients)
        {
            errors.Add("to", $"must list at most {MaxRecipients} recipients.");
        }
        else
        {
            for (var i = 0; i < request.To.Length; i++)
            {
                if (errors.Address($"to[{i}]", request.To[i], plain: false) is { } address)
                {
                    to.Add(address);
                }
            }
        }

        var subject = errors.Line("subject", request.Subject, MaxSubjectLength);
        string? content = null;
        if (request.Content is null)
        {
            errors.Add("content", "is required (it may be empty).");
        }
        else if (request.Content.Length > MaxContentLength)
        {
            errors.Add("content", $"must be at most {MaxContentLength} characters.");
        }
        else if (request.Content.Contains('\0', StringComparison.Ordinal))
        {
            errors.Add("content", "must not contain NUL characters.");
        }
        else
        {
            content = request.Content;
        }

        return errors.IsEmpty ? (new ValidMail(from!, to, subject!, content!), errors) : (null, errors);
    }
}

/// <summary>A validated mail request, normalized.</summary>
/// <param name="From">Sender.</param>
/// <param name="To">Recipients.</param>
/// <param name="Subject">Subject.</param>
/// <param name="Content">Body.</param>
internal sealed record ValidMail(string From, IReadOnlyList<string> To, string Subject, string Content);
