using Microsoft.Extensions.Options;

namespace Postbox.Sqlite;

/// <summary>Validates <see cref="SqliteOptions"/>, listing every problem.</summary>
internal sealed class SqliteOptionsValidator : IValidateOptions<SqliteOptions>
{
    public ValidateOptionsResult Validate(string? name, SqliteOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("Postbox:Sqlite:ConnectionString is required (e.g. \"Data Source=postbox.db\").");
        }

        if (!SqliteTables.IsValid(options.TablePrefix))
        {
            errors.Add($"Postbox:Sqlite:TablePrefix '{options.TablePrefix}' is invalid: use lower-case letters, digits and underscores, at most 40 characters.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
