using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Postbox.Service.Hosting;

/// <summary>The dashboard's credentials for this process: from configuration, or generated at start (then printed once).</summary>
/// <param name="UserName">The user name.</param>
/// <param name="Password">The password.</param>
/// <param name="Generated">Whether the password was generated (the banner prints it).</param>
internal sealed record DashboardAccess(string UserName, string Password, bool Generated)
{
    public const string Scheme = "PostboxDashboardBasic";
    public const string Policy = "PostboxDashboard";

    public static DashboardAccess From(DashboardSettings settings) => settings.Password is { Length: > 0 } password
        ? new DashboardAccess(settings.UserName, password, Generated: false)
        : new DashboardAccess(settings.UserName, RandomNumberGenerator.GetString("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20), Generated: true);

    /// <summary>Compares in constant time, so the answer's timing tells nothing about how much of a guess was right.</summary>
    public bool Matches(string userName, string password) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(userName)), SHA256.HashData(Encoding.UTF8.GetBytes(UserName)))
        & CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(password)), SHA256.HashData(Encoding.UTF8.GetBytes(Password)));
}

/// <summary>HTTP basic authentication against <see cref="DashboardAccess"/>; the browser asks for the credentials.</summary>
internal sealed class DashboardBasicAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, DashboardAccess access)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        string text;
        try
        {
            text = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
        }
        catch (FormatException)
        {
            return Task.FromResult(AuthenticateResult.Fail("Malformed basic credentials."));
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || !access.Matches(text[..colon], text[(colon + 1)..]))
        {
            return Task.FromResult(AuthenticateResult.Fail("Wrong dashboard credentials."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, access.UserName)], DashboardAccess.Scheme);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), DashboardAccess.Scheme)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Basic realm=\"Postbox dashboard\", charset=\"UTF-8\"";
        return base.HandleChallengeAsync(properties);
    }
}
