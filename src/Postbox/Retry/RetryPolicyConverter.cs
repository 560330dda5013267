using System.ComponentModel;
using System.Globalization;

namespace Postbox.Retry;

/// <summary>
/// Reads a <see cref="RetryPolicy"/> from a configuration string, so <c>Postbox:Relay:RetryPolicy</c> binds:
/// <c>Asynq</c>, <c>Fixed(00:00:05)</c> or <c>Exponential(00:00:01, 00:05:00[, factor[, jitter]])</c>.
/// </summary>
internal sealed class RetryPolicyConverter : TypeConverter
{
    private const string Forms = "'Asynq', 'Fixed(00:00:05)' or 'Exponential(00:00:01, 00:05:00[, factor[, jitter]])'";

    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text ? Parse(text) : base.ConvertFrom(context, culture, value);

    /// <summary>Parses one of the accepted forms; throws <see cref="FormatException"/> naming them otherwise.</summary>
    public static RetryPolicy Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var open = trimmed.IndexOf('(', StringComparison.Ordinal);
        var name = (open < 0 ? trimmed : trimmed[..open]).Trim();
        string[] args = [];
        if (open >= 0)
        {
            if (!trimmed.EndsWith(')'))
            {
                throw Invalid(text);
            }

            args = [.. trimmed[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries)];
        }

        RetryPolicy? policy;
        try
        {
            policy = (name.ToUpperInvariant(), args.Length) switch
            {
                ("ASYNQ", 0) => RetryPolicy.Asynq,
                ("FIXED", 1) => RetryPolicy.Fixed(Time(args[0])),
                ("EXPONENTIAL", >= 2 and <= 4) => RetryPolicy.Exponential(Time(args[0]), Time(args[1]),
                    args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 2.0,
                    args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 0.2),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw new FormatException($"'{text}' is not a retry policy: {ex.Message} Use {Forms}.", ex);
        }

        return policy ?? throw Invalid(text);
    }

    private static TimeSpan Time(string value) => TimeSpan.Parse(value, CultureInfo.InvariantCulture);

    private static FormatException Invalid(string text) => new($"'{text}' is not a retry policy. Use {Forms}.");
}
