namespace Postbox.Service.Http;

/// <summary>Collects validation errors per field for a <c>400</c> validation problem (every error listed at once).</summary>
internal sealed class FieldErrors
{
    private const int MaxLocalPart = 64;
    private const int MaxDomain = 255;
    private const int MaxLabel = 63;
    private const int MaxAddress = 254;

    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public void Add(string field, string error)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(error);
    }

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// A single-line text: required, within <paramref name="maxLength"/>, without control characters. CR and LF are the
    /// header-injection characters; the other control characters have no business in a header or a name either.
    /// </summary>
    public string? Line(string field, string? value, int maxLength, bool allowEmpty = false)
    {
        if (value is null || (!allowEmpty && string.IsNullOrWhiteSpace(value)))
        {
            Add(field, "is required.");
            return null;
        }

        var ok = true;
        if (value.Length > maxLength)
        {
            Add(field, $"must be at most {maxLength} characters.");
            ok = false;
        }

        if (value.Any(char.IsControl))
        {
            Add(field, "must not contain line breaks (CR, LF) or other control characters.");
            ok = false;
        }

        return ok ? value : null;
    }

    /// <summary>
    /// Exactly one e-mail address: <c>name@example.com</c>, or with <paramref name="plain"/> <see langword="false"/> also
    /// <c>Name &lt;name@example.com&gt;</c> / <c>"Name" &lt;name@example.com&gt;</c>. Never two addresses (a comma or
    /// semicolon outside quotes), a group (<c>team: a@x;</c>), a comment (<c>(...)</c>), a source route, or an empty
    /// entry; the address itself is ASCII (no SMTPUTF8), the display name must not contain <c>@</c> (it would read as
    /// an address). Returns the normalized form, or <see langword="null"/> after adding the error.
    /// </summary>
    public string? Address(string field, string? value, bool plain)
    {
        var line = Line(field, value, 320);
        if (line is null)
        {
            return null;
        }

        var text = line.Trim();
        if (MailboxText.Parse(text) is not { } mailbox
            || (plain && (!string.IsNullOrEmpty(mailbox.Name) || !string.Equals(mailbox.Address, text, StringComparison.Ordinal))))
        {
            Add(field, plain
                ? "must be one plain e-mail address such as name@example.com."
                : "must be one e-mail address such as name@example.com or Name <name@example.com> (no lists, groups or comments).");
            return null;
        }

        if (!WithinSmtpLimits(field, mailbox.Address))
        {
            return null;
        }

        return plain ? mailbox.Address : mailbox.ToString();
    }

    /// <summary>
    /// RFC 5321's size limits (4.5.3.1), which SMTP servers enforce by refusing the mail after it was accepted here: local
    /// part at most 64 octets, domain at most 255, the path (<c>&lt;address&gt;</c>) at most 256, so the address at most
    /// 254; and each domain label at most 63 (RFC 1035). The address is ASCII here, so characters are octets.
    /// </summary>
    private bool WithinSmtpLimits(string field, string address)
    {
        var at = address.LastIndexOf('@');
        var (local, domain) = (address[..at], address[(at + 1)..]);
        var ok = true;
        if (local.Length > MaxLocalPart)
        {
            Add(field, $"the local part (before @) must be at most {MaxLocalPart} characters (RFC 5321); it has {local.Length}.");
            ok = false;
        }

        if (domain.Length > MaxDomain)
        {
            Add(field, $"the domain (after @) must be at most {MaxDomain} characters (RFC 5321); it has {domain.Length}.");
            ok = false;
        }
        else if (domain.Split('.').FirstOrDefault(label => label.Length > MaxLabel) is { } label)
        {
            Add(field, $"each part of the domain between dots must be at most {MaxLabel} characters (RFC 1035); one has {label.Length}.");
            ok = false;
        }

        if (ok && address.Length > MaxAddress)
        {
            Add(field, $"the address must be at most {MaxAddress} characters (RFC 5321's path limit); it has {address.Length}.");
            ok = false;
        }

        return ok;
    }
}
