using Microsoft.Playwright;

namespace Postbox.Dashboard.Tests.Infrastructure;

/// <summary>One headless Debian Chromium for the test run (no Playwright browser download), a fresh context per test.</summary>
public sealed class Browser : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("POSTBOX_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Instance is not null)
        {
            await Instance.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>A page logged in with the host's credentials (or none).</summary>
    public async Task<IPage> PageAsync(bool withCredentials = true)
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1360, Height = 860 },
            HttpCredentials = withCredentials ? new HttpCredentials { Username = BasicAuthentication.User, Password = BasicAuthentication.Password } : null,
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(15_000);
        return page;
    }
}

[CollectionDefinition(nameof(BrowserTests))]
public sealed class BrowserTests : ICollectionFixture<Browser>;
