// The health check mapping shown in docs/operations.md and README.md, compiled here (this project has ASP.NET Core);
// Postbox.IntegrationTests' DocsExampleTests checks that the pages show it unchanged.
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Postbox.Service.Tests.Docs;

public static class HealthMappingExample
{
    public static void Map(WebApplication app)
    {
        // DOCS:map:begin
        app.MapHealthChecks("/health/live", new() { Predicate = r => r.Tags.Contains(PostboxHealthChecks.LiveTag) });
        app.MapHealthChecks("/health/ready", new() { Predicate = r => r.Tags.Contains(PostboxHealthChecks.ReadyTag) });
        // DOCS:map:end
    }
}
