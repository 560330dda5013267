using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Postbox.Hosting;

/// <summary>
/// Returned by <see cref="PostboxServiceCollectionExtensions.AddPostbox(IServiceCollection, Action{PostboxOptions}?)"/>;
/// providers add their <c>Use...</c> extension methods to it (<c>UsePostgreSql</c>, <c>UseRabbitMQ</c>).
/// </summary>
public sealed class PostboxBuilder
{
    internal PostboxBuilder(IServiceCollection services, IConfiguration? configuration)
    {
        Services = services;
        Configuration = configuration;
    }

    /// <summary>The service collection Postbox is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// The <c>Postbox</c> configuration section passed to
    /// <see cref="PostboxServiceCollectionExtensions.AddPostbox(IServiceCollection, IConfiguration, Action{PostboxOptions}?)"/>,
    /// or <see langword="null"/> when Postbox is configured in code only. Providers bind their options from a
    /// sub-section of it (<c>PostgreSql</c>, <c>RabbitMQ</c>, <c>Consumers</c>, ...) before the code's own configuration runs.
    /// </summary>
    public IConfiguration? Configuration { get; }

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> from the sub-section <paramref name="section"/> of <see cref="Configuration"/>,
    /// when there is one. For provider authors: call it before applying the code's configuration, so code wins.
    /// </summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <param name="section">The sub-section's key, e.g. <c>PostgreSql</c>.</param>
    /// <returns>The options builder, to chain <c>Configure</c> and <c>ValidateOnStart</c>.</returns>
    public OptionsBuilder<TOptions> AddOptions<TOptions>(string section)
        where TOptions : class
    {
        ArgumentException.ThrowIfNullOrEmpty(section);
        var options = Services.AddOptions<TOptions>();
        if (Configuration is { } configuration)
        {
            options.Bind(configuration.GetSection(section));
        }

        return options;
    }
}
