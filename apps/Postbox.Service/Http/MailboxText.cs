using System.Net.Mail;
using MimeKit;

namespace Postbox.Service.Http;

/// <summary>
/// Parses one mailbox strictly. MimeKit's parser (the one the sender uses) does the RFC 5322 work; the checks around it
/// refuse what a lenient parser turns into something else: <c>a@x, b@x</c> read as a display name plus one address
/// (only b receives the mail), groups, comments it would drop, routes, addresses without a domain.
/// </summary>
internal static class MailboxText
{
    private static readonly ParserOptions Strict = new()
    {
        AddressParserComplianceMode = RfcComplianceMode.Strict,
        AllowAddressesWithoutDomain = false,
        AllowUnquotedCommasInAddresses = false,
    };

    /// <summary>The single mailbox in <paramref name="text"/>, or <see langword="null"/> when it is not exactly one plain mailbox.</summary>
    public static MailboxAddress? Parse(string text)
    {
        if (text.Length == 0 || HasUnquoted(text, c => c is ',' or ';' or '(' or ')' or ':'))
        {
            return null;
        }

        if (!InternetAddressList.TryParse(Strict, text, out var list) || list.Count != 1 || list[0] is not MailboxAddress mailbox)
        {
            return null;
        }

        var address = mailbox.Address;
        // The address is ASCII (sent without SMTPUTF8), has one @ with a non-empty local part and domain, and .NET's
        // parser agrees with MimeKit's about it.
        if (mailbox.Route.Count > 0 || !address.All(char.IsAscii) || address.Count(c => c == '@') != 1 || address.StartsWith('@') || address.EndsWith('@')
            || !MailAddress.TryCreate(address, out var check) || !string.Equals(check.Address, address, StringComparison.Ordinal) || check.DisplayName.Length > 0
            || (mailbox.Name ?? string.Empty).Contains('@', StringComparison.Ordinal) || (mailbox.Name ?? string.Empty).Any(char.IsControl))
        {
            return null;
        }

        return mailbox;
    }

    /// <summary>Whether a character matching <paramref name="match"/> appears outside a quoted string.</summary>
    private static bool HasUnquoted(string text, Func<char, bool> match)
    {
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && match(c))
            {
                return true;
            }
        }

        return quoted; // an unterminated quote is not an address either
    }
}
