using Microsoft.Extensions.Options;

namespace Postbox.PostgreSql;

/// <summary>Validates <see cref="PostgreSqlOptions"/>, listing every problem.</summary>
internal sealed class PostgreSqlOptionsValidator(bool hasDataSource) : IValidateOptions<PostgreSqlOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlOptions options)
    {
        var errors = new List<string>();
        if (!PostgreSqlSchema.IsValid(options.Schema))
        {
            errors.Add($"Postbox:PostgreSql:Schema '{options.Schema}' is invalid: use lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters.");
        }

        if (!hasDataSource && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("Postbox:PostgreSql:ConnectionString is required.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
