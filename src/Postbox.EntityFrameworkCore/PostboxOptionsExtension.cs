using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Postbox.EntityFrameworkCore;

/// <summary>
/// Registers <see cref="OutboxStage"/> in EF's internal service provider: one per context instance, reset with the
/// context when a pooled context goes back to the pool (so staged messages never leak to the next lease).
/// </summary>
internal sealed class PostboxOptionsExtension : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
    {
        services.AddScoped<OutboxStage>();
        services.AddScoped<IResettableService>(sp => sp.GetRequiredService<OutboxStage>());
    }

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class ExtensionInfo(IDbContextOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider => false;

        public override string LogFragment => "using Postbox ";

        public override int GetServiceProviderHashCode() => 0;

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is ExtensionInfo;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) => debugInfo["Postbox"] = "1";
    }
}
