using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Postbox.Hosting;

namespace Postbox.PostgreSql;

/// <summary>
/// Validates <see cref="PostgreSqlOptions"/>, listing every problem, including a connection pool too small for the
/// work configured in this process (see <see cref="ConnectionDemand"/>): such a pool would let the host start and then
/// deliver nothing, or only by waiting for pool timeouts.
/// </summary>
internal sealed class PostgreSqlOptionsValidator(NpgsqlDataSource? dataSource, IServiceProvider? services) : IValidateOptions<PostgreSqlOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlOptions options)
    {
        var errors = new List<string>();
        if (!PostgreSqlSchema.IsValid(options.Schema))
        {
            errors.Add($"Postbox:PostgreSql:Schema '{options.Schema}' is invalid: use lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters.");
        }

        NpgsqlConnectionStringBuilder? pool = null;
        if (dataSource is not null)
        {
            pool = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        }
        else if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("Postbox:PostgreSql:ConnectionString is required.");
        }
        else
        {
            try
            {
                pool = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Postbox:PostgreSql:ConnectionString is not a valid Npgsql connection string: {ex.Message}");
            }
        }

        if (pool is not null && Demand() is { } demand)
        {
            CheckPool(pool, demand, shared: dataSource is not null, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private ConnectionDemand? Demand()
    {
        try
        {
            return services?.GetService<ConnectionDemand>();
        }
        catch (OptionsValidationException)
        {
            return null; // Postbox's own options are invalid: their validator reports that, and the demand is unknown.
        }
    }

    private static void CheckPool(NpgsqlConnectionStringBuilder pool, ConnectionDemand demand, bool shared, List<string> errors)
    {
        if (shared && demand.Handlers > 0 && pool.NoResetOnClose)
        {
            errors.Add("The data source passed to UsePostgreSql has 'No Reset On Close' set, and handlers run on its connections: one handler's "
                + "session state (SET, temp tables, session advisory locks) would reach the next handler and the relay. Pass a data source "
                + "without it, or a connection string (Postbox then keeps a fast pool for its own statements and a resetting one for handlers).");
        }

        if (!pool.Pooling)
        {
            return; // Every open is a new session: no pool to run dry.
        }

        var relay = $"the relay {demand.Relay} ({demand.SettlingBatches} settles at once (Postbox:Relay:MaxInFlightBatches) + 1 claim + 2 maintenance)";
        var handlers = $"handlers {demand.Handlers} (the sum of the handlers' Concurrency)";
        var bookkeeping = $"the inbox's retry claim and cleanup {demand.InboxBookkeeping}";
        var fix = "Raise 'Maximum Pool Size' in the connection string, or lower Postbox:Relay:MaxInFlightBatches or the handlers' Concurrency.";
        if (shared)
        {
            if (pool.MaxPoolSize < demand.Total)
            {
                errors.Add($"The connection pool allows {pool.MaxPoolSize} connections ('Maximum Pool Size' of the data source passed to UsePostgreSql), "
                    + $"but Postbox in this process can hold {demand.Total} at once: {relay} + {handlers} + {bookkeeping}. {fix}");
            }

            return;
        }

        // From a connection string Postbox builds two pools of that size: its own statements, and handler code.
        var own = demand.Relay + demand.InboxBookkeeping;
        if (pool.MaxPoolSize < own)
        {
            errors.Add($"Postbox:PostgreSql:ConnectionString allows {pool.MaxPoolSize} pooled connections ('Maximum Pool Size'), but Postbox's own "
                + $"statements in this process can hold {own} at once: {relay} + {bookkeeping}. {fix}");
        }

        if (pool.MaxPoolSize < demand.Handlers)
        {
            errors.Add($"Postbox:PostgreSql:ConnectionString allows {pool.MaxPoolSize} pooled connections ('Maximum Pool Size'), but {handlers} "
                + $"can hold {demand.Handlers} inbox transactions at once. {fix}");
        }
    }
}
