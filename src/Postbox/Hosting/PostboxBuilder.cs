using Microsoft.Extensions.DependencyInjection;

namespace Postbox.Hosting;

/// <summary>
/// Returned by <see cref="PostboxServiceCollectionExtensions.AddPostbox"/>; providers add their
/// <c>Use...</c> extension methods to it (<c>UsePostgreSql</c>, <c>UseRabbitMQ</c>).
/// </summary>
public sealed class PostboxBuilder
{
    internal PostboxBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection Postbox is registered in.</summary>
    public IServiceCollection Services { get; }
}
