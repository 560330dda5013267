using System.Data.Common;
using System.Globalization;

namespace Postbox.Monitoring;

/// <summary>Positional parameters named <c>@p0</c>, <c>@p1</c>, … — a form every store's ADO.NET provider accepts.</summary>
internal static class SqlParameters
{
    /// <summary>Adds a parameter and returns its placeholder.</summary>
    public static string Add(DbCommand command, object value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@p" + command.Parameters.Count.ToString(CultureInfo.InvariantCulture);
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter.ParameterName;
    }
}
