using Postbox.Service.Cli;

namespace Postbox.Service.Tests;

/// <summary>A mistyped option is refused instead of becoming an unused configuration key (pure logic).</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("--smtp-usr", "bob")]
    [InlineData("--smtp-password", "secret")]
    [InlineData("--smtp-pasword=secret")]
    [InlineData("-x")]
    [InlineData("--")]
    public void Start_UnknownOption_Refused(params string[] tokens)
    {
        var unknown = ServiceCommandLine.UnknownOptions(tokens);

        Assert.Single(unknown);
        Assert.DoesNotContain("secret", unknown[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Mail:Smtp:Timeout=00:00:05")]
    [InlineData("--Worker:Concurrency", "4")]
    [InlineData("--Storage:Sqlite", "/tmp/x.db")]
    [InlineData("--Worker:MaxAttempts", "0")]
    [InlineData("--environment", "Development")]
    [InlineData("--contentRoot=/tmp")]
    public void Start_SectionKeyOrHostSwitch_Accepted(params string[] tokens) =>
        Assert.Empty(ServiceCommandLine.UnknownOptions(tokens));

    [Theory]
    [InlineData("--Mail:Smtp:Password=secret")]
    [InlineData("--Mail:Smtp:Password", "secret")]
    [InlineData("--mail:smtp:password=secret")]
    [InlineData("/Mail:Smtp:Password=secret")]
    [InlineData("Mail:Smtp:Password=secret")]
    [InlineData("-Mail:Smtp:Password=secret")]
    public void Start_PasswordOnCommandLine_RefusedWithoutEchoingIt(params string[] tokens)
    {
        var secrets = ServiceCommandLine.SecretOptions(tokens);

        var key = Assert.Single(secrets);
        Assert.Equal("mail:smtp:password", key, ignoreCase: true);
    }

    [Theory]
    [InlineData("--smtp-user", "bob")]
    [InlineData("--Mail:Smtp:UserName=bob")]
    [InlineData("--Storage:PostgreSql", "Host=h;Username=u;Password=p;Database=d")]
    [InlineData("--Mail:Smtp:PasswordHint=x")]
    public void Start_NoSecretKeyOnCommandLine_NotRefused(params string[] tokens) =>
        Assert.Empty(ServiceCommandLine.SecretOptions(tokens));

    [Fact]
    public async Task Start_SmtpPasswordOnCommandLine_ExitsWithoutStarting()
    {
        // Everything else is valid: were the password accepted, the service would run (until the token stops it) and exit 0.
        var folder = Directory.CreateTempSubdirectory("postbox-cli-");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var code = await ServiceCommandLine.InvokeAsync(
                ["all", "--urls", "http://127.0.0.1:0", "--sqlite", $"Data Source={Path.Combine(folder.FullName, "p.db")}",
                 "--smtp-host", "127.0.0.1", "--smtp-user", "bob", "--smtp-allow-insecure-auth", "--Mail:Smtp:Password=secret"], TextWriter.Null, stop.Token);

            Assert.Equal(2, code);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Start_MistypedSmtpUser_ExitsWithoutStarting()
    {
        // Were the typo ignored, the service would run (until the token stops it) and exit 0.
        var folder = Directory.CreateTempSubdirectory("postbox-cli-");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var code = await ServiceCommandLine.InvokeAsync(
                ["all", "--urls", "http://127.0.0.1:0", "--sqlite", $"Data Source={Path.Combine(folder.FullName, "p.db")}",
                 "--mail-dir", folder.FullName, "--smtp-host", "127.0.0.1", "--smtp-usr", "bob"], TextWriter.Null, stop.Token);

            Assert.NotEqual(0, code);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
