using Microsoft.Extensions.Options;

namespace Postbox.MySql;

/// <summary>Validates <see cref="MySqlOptions"/>, listing every problem.</summary>
internal sealed class MySqlOptionsValidator : IValidateOptions<MySqlOptions>
{
    public ValidateOptionsResult Validate(string? name, MySqlOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("Postbox:MySql:ConnectionString is required (e.g. \"Server=127.0.0.1;User ID=app;Password=...;Database=shop\").");
        }
        else
        {
            try
            {
                _ = new MySqlConnector.MySqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Postbox:MySql:ConnectionString is not a valid MySqlConnector connection string: {ex.Message}");
            }
        }

        if (!MySqlTables.IsValid(options.TablePrefix))
        {
            errors.Add($"Postbox:MySql:TablePrefix '{options.TablePrefix}' is invalid: use lower-case letters, digits and underscores, starting with a letter or underscore, at most 40 characters.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
