using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Postbox.Dashboard.Tests.Infrastructure;

/// <summary>The host's choice of authentication in these tests: HTTP basic with one fixed user.</summary>
public sealed class BasicAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Basic";
    public const string User = "operator";
    public const string Password = "s3cret-dashboard";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) || header.Scheme != SchemeName || header.Parameter is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var text = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
        if (text != $"{User}:{Password}")
        {
            return Task.FromResult(AuthenticateResult.Fail("Wrong credentials."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, User)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Basic realm=\"Postbox dashboard\", charset=\"UTF-8\"";
        return base.HandleChallengeAsync(properties);
    }

    public static AuthenticationHeaderValue Header() => new(SchemeName, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
}
