using System.Net.Mail;

namespace Postbox.Service.Http;

/// <summary>Collects validation errors per field for a <c>400</c> validation problem (every error listed at once).</summary>
internal sealed class FieldErrors
{
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
    /// An e-mail address parsed by <see cref="MailAddress"/>, ASCII only (System.Net.Mail sends without SMTPUTF8). With
    /// <paramref name="plain"/> a display name is refused. Returns the normalized form, or <see langword="null"/>.
    /// </summary>
    public string? Address(string field, string? value, bool plain)
    {
        var line = Line(field, value, 320);
        if (line is null)
        {
            return null;
        }

        if (!line.All(char.IsAscii) || !MailAddress.TryCreate(line.Trim(), out var address)
            || (plain && (address.DisplayName.Length > 0 || !string.Equals(address.Address, line.Trim(), StringComparison.Ordinal))))
        {
            Add(field, plain ? "must be a plain e-mail address such as name@example.com." : "must be an e-mail address such as name@example.com or \"Name\" <name@example.com>.");
            return null;
        }

        return plain ? address.Address : address.ToString();
    }
}
