using System.CommandLine;
using System.Data.Common;
using Postbox.Monitoring;
using Spectre.Console;
using Microsoft.Extensions.Options;
using Postbox.Service.Hosting;

namespace Postbox.Service.Cli;

/// <summary>
/// The executable's subcommands. Named options cover what one changes most; any other setting is given as
/// <c>--Section:Key=value</c> (or an environment variable <c>Section__Key</c>, or <c>appsettings.json</c>). Named options
/// win over every other source.
/// </summary>
internal static class ServiceCommandLine
{
    private static readonly (string Name, ServiceRoles Roles, string Description)[] Commands =
    [
        ("all", ServiceRoles.All, "Everything in one process: API, relay, worker and dashboard. Out of the box: SQLite file, in-process transport, .eml files."),
        ("api", ServiceRoles.Api, "The HTTP API: writes business rows and outbox messages in one transaction."),
        ("relay", ServiceRoles.Relay, "The outbox relay: publishes committed messages to RabbitMQ."),
        ("worker", ServiceRoles.Worker, "A worker: sends mail over SMTP, handles customer events. Run as many as wanted. SIGTSTP pauses it, SIGCONT resumes."),
        ("migrate", ServiceRoles.None, "Applies the database migrations (Postbox's and the service's), then exits."),
        ("dashboard", ServiceRoles.Dashboard, "The dashboard at /dashboard (monitoring and admin UI; credentials from Dashboard:UserName/Password, or generated and printed)."),
    ];

    public static async Task<int> InvokeAsync(string[] args, TextWriter? output = null, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("Postbox reference service: mail delivery, user registration and customer events over a transactional outbox.");
        var options = new ServiceOptions();
        foreach (var option in options.All)
        {
            root.Options.Add(option);
        }

        foreach (var (name, roles, description) in Commands)
        {
            var command = new Command(name, description) { TreatUnmatchedTokensAsErrors = false };
            command.SetAction((result, token) => RunAsync(result, roles, options, output ?? Console.Out, token));
            root.Subcommands.Add(command);
        }

        root.Subcommands.Add(AdminCommand.Create((result, action, token) => RunAdminAsync(result, options, output ?? Console.Out, action, token)));

        // The host owns SIGINT/SIGTERM (graceful shutdown); System.CommandLine must not kill the process after 2 s.
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The tokens left over by the named options that the configuration would silently ignore: an option without a
    /// <c>Section:Key</c> colon, other than the host's own switches.
    /// </summary>
    internal static IReadOnlyList<string> UnknownOptions(IReadOnlyList<string> tokens)
    {
        string[] hostKeys = ["urls", "environment", "contentRoot", "applicationName"];
        var unknown = new List<string>();
        foreach (var token in tokens)
        {
            // Values (a path, a negative number) are not options; "-x" and "--x" are.
            if (!token.StartsWith("--", StringComparison.Ordinal) && !(token.Length > 1 && token[0] == '-' && char.IsLetter(token[1])))
            {
                continue;
            }

            var key = token.TrimStart('-').Split('=', 2)[0];
            if (key.Length == 0 || (!key.Contains(':', StringComparison.Ordinal) && !hostKeys.Contains(key, StringComparer.OrdinalIgnoreCase)))
            {
                unknown.Add(token.Split('=', 2)[0]);
            }
        }

        return unknown;
    }

    /// <summary>
    /// The words left over that are neither a setting (<c>Section:Key=value</c>) nor the value of a <c>--Section:Key</c>
    /// before them: a second id to <c>admin show</c>, a state written without <c>--state</c>. The configuration would
    /// ignore them, and the operator would not learn that the command did something else than asked.
    /// </summary>
    internal static IReadOnlyList<string> StrayArguments(IReadOnlyList<string> tokens)
    {
        var stray = new List<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var option = token.StartsWith('-') || token.StartsWith('/');
            var valueOfPrevious = i > 0 && (tokens[i - 1].StartsWith('-') || tokens[i - 1].StartsWith('/')) && !tokens[i - 1].Contains('=', StringComparison.Ordinal);
            if (!option && !valueOfPrevious && !token.Contains('=', StringComparison.Ordinal))
            {
                stray.Add(token);
            }
        }

        return stray;
    }

    /// <summary>
    /// The configuration keys among <paramref name="tokens"/> that hold a secret (a key named <c>Password</c>, such as
    /// <c>Mail:Smtp:Password</c>), in every form the command-line configuration accepts (<c>--key=value</c>,
    /// <c>--key value</c>, <c>/key=value</c>, <c>key=value</c>). A process's command line is readable by every user of the
    /// machine (<c>ps</c>, <c>/proc</c>), so a secret there is refused, not used.
    /// </summary>
    internal static IReadOnlyList<string> SecretOptions(IReadOnlyList<string> tokens)
    {
        var secrets = new List<string>();
        foreach (var token in tokens)
        {
            var key = token.Split('=', 2)[0].TrimStart('-', '/');
            var last = key.Split(':')[^1];
            if (key.Contains(':', StringComparison.Ordinal) && last.Equals("Password", StringComparison.OrdinalIgnoreCase))
            {
                secrets.Add(key);
            }
        }

        return secrets;
    }

    /// <summary>The configuration from the named options and the remaining <c>--Section:Key=value</c> tokens, or the exit code of a refusal.</summary>
    private static async Task<(Dictionary<string, string?> Overrides, string[] Args, int? Exit)> ReadArgumentsAsync(ParseResult result, ServiceOptions options)
    {
        var overrides = options.ToConfiguration(result);
        var args = result.UnmatchedTokens.ToArray();
        var secrets = SecretOptions(args);
        if (secrets.Count > 0)
        {
            var key = secrets[0];
            await Console.Error.WriteLineAsync(
                $"{key} is not accepted on the command line: every user of the machine can read a process's command line (ps). " +
                $"Set the environment variable {key.Replace(":", "__", StringComparison.Ordinal)} or put it in appsettings.json.").ConfigureAwait(false);
            return (overrides, args, 2);
        }

        var unknown = UnknownOptions(args);
        if (unknown.Count > 0)
        {
            // A mistyped option (--smtp-usr) would otherwise become an unused configuration key, and the mail would go
            // out unauthenticated without a word.
            await Console.Error.WriteLineAsync(
                $"Unknown option(s): {string.Join(", ", unknown)}. See --help; other settings are given as --Section:Key=value.").ConfigureAwait(false);
            return (overrides, args, 1);
        }

        return (overrides, args, null);
    }

    private static async Task<int> RunAdminAsync(ParseResult result, ServiceOptions options, TextWriter output, Func<AdminSession, Task<int>> action,
        CancellationToken cancellationToken)
    {
        var (overrides, args, exit) = await ReadArgumentsAsync(result, options).ConfigureAwait(false);
        if (exit is { } refused)
        {
            return refused;
        }

        if (StrayArguments(args) is [var first, ..])
        {
            await Console.Error.WriteLineAsync($"Unexpected argument '{first}'. See 'admin {result.CommandResult.Command.Name} --help'.").ConfigureAwait(false);
            return AdminExitCodes.BadArguments;
        }

        // The operator reads tables, not the host's information lines; warnings and errors still show.
        overrides.TryAdd("Logging:LogLevel:Default", "Warning");
        // No host runs here to handle Ctrl+C (System.CommandLine's handler is off for the host's sake), and a driver may
        // not honour a cancellation while it waits on a silent server: the process ends at once, as it would anyway, after
        // saying so. Each replay batch is one statement in its own transaction: it is either done or not, never half.
        static void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) =>
            Console.Error.WriteLine("Cancelled: replay batches already done stay done.");

        Console.CancelKeyPress += OnCancelKeyPress;
        try
        {
            using var host = ServiceApp.Build(ServiceRoles.None, args, overrides, null);
            if (MissingSqliteFile(host.Services.GetRequiredService<IConfiguration>()) is { } missing)
            {
                // Opening it would create an empty database (and its folder) where the operator mistyped a path.
                await Console.Error.WriteLineAsync($"There is no SQLite database at '{missing}': check --sqlite (Storage:Sqlite), or run 'migrate' (or 'all') first to create it.")
                    .ConfigureAwait(false);
                return AdminExitCodes.StoreFailed;
            }

            if (host.Services.GetService<IPostboxMonitor>() is not { } monitor)
            {
                await Console.Error.WriteLineAsync("This store has no monitor: the admin commands need PostgreSQL, SQLite or MySQL.").ConfigureAwait(false);
                return AdminExitCodes.StoreFailed;
            }

            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
            if (Console.IsOutputRedirected)
            {
                // Piped into a script or a file: no terminal width to fit, and a wrapped id could not be read back.
                console.Profile.Width = 240;
            }

            return await action(new AdminSession(monitor, host.Services.GetService<IPostboxPauses>(), console, host.Services.GetRequiredService<TimeProvider>(),
                cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ConfigurationError(ex) is { } error)
        {
            await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
            return AdminExitCodes.BadConfiguration;
        }
        catch (DbException ex)
        {
            // Unreachable, refused, or not migrated yet: one line, the store's own words.
            var hint = NotMigrated(ex.Message) ? " (are its tables there? run 'migrate' first)" : "";
            await Console.Error.WriteLineAsync($"The store failed: {ex.Message.ReplaceLineEndings(" ")}{hint}").ConfigureAwait(false);
            return AdminExitCodes.StoreFailed;
        }
        finally
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
        }
    }

    /// <summary>The SQLite file the admin command would open, when the store is SQLite and the file is not there.</summary>
    private static string? MissingSqliteFile(IConfiguration configuration)
    {
        var storage = ServiceConfiguration.Read(configuration, ServiceRoles.None).Storage;
        if (storage.Provider != StorageProvider.Sqlite || string.IsNullOrWhiteSpace(storage.Sqlite))
        {
            return null;
        }

        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(storage.Sqlite);
        var path = builder.DataSource;
        var inMemory = builder.Mode == Microsoft.Data.Sqlite.SqliteOpenMode.Memory || path is "" or ":memory:";
        return inMemory || File.Exists(path) ? null : Path.GetFullPath(path);
    }

    // PostgreSQL 42P01 "relation ... does not exist", SQLite "no such table", MySQL 1146 "Table ... doesn't exist".
    private static bool NotMigrated(string message) =>
        message.Contains("no such table", StringComparison.OrdinalIgnoreCase)
        || message.Contains("does not exist", StringComparison.OrdinalIgnoreCase)
        || message.Contains("doesn't exist", StringComparison.OrdinalIgnoreCase);

    private static async Task<int> RunAsync(ParseResult result, ServiceRoles roles, ServiceOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var (overrides, args, exit) = await ReadArgumentsAsync(result, options).ConfigureAwait(false);
        if (exit is { } refused)
        {
            return refused;
        }

        try
        {
            using var host = ServiceApp.Build(roles == ServiceRoles.None ? ServiceRoles.None : roles, args, overrides, roles == ServiceRoles.None ? null : output);
            if (roles == ServiceRoles.None)
            {
                host.Services.GetService<Data.SqliteAppDatabase>()?.CreateFolder();
                var applied = await Migrations.ApplyAsync(host.Services, cancellationToken).ConfigureAwait(false);
                await output.WriteLineAsync($"Migrations applied: {(applied.Count == 0 ? "none (the schema is current)" : string.Join(", ", applied))}").ConfigureAwait(false);
                return 0;
            }

            await host.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ConfigurationError(ex) is { } error)
        {
            await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
            return 2;
        }
    }

    /// <summary>What to tell the user when <paramref name="exception"/> is a configuration problem (exit code 2); otherwise null.</summary>
    private static string? ConfigurationError(Exception exception) => exception switch
    {
        ServiceConfigurationException e => e.Message,
        OptionsValidationException e => "The configuration is invalid:" + string.Concat(e.Failures.Select(f => Environment.NewLine + "  - " + f)),
        _ => null,
    };
}
