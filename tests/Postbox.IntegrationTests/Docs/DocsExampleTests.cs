using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Postbox.IntegrationTests.Docs.ConsumersPage;
using Postbox.IntegrationTests.Infrastructure;

namespace Postbox.IntegrationTests.Docs;

/// <summary>The C# examples of docs/ compile (they are files of this project) and the pages show them unchanged.</summary>
public sealed class DocsExampleTests
{
    [Fact]
    public void ConsumersPage_ShowsTheRegistrationExampleAsCompiled_WithItsUsings() =>
        DocSnippets.AssertShown("docs/consumers.md", "tests/Postbox.IntegrationTests/Docs/ConsumersPageExample.cs", "usings", "register", "handler");

    [Fact]
    public void ConsumersPage_RegistrationExample_PassesStartUpValidation()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ConsumersPageExample.Register(builder.Services, TestEnvironment.PostgresConnectionString, TestEnvironment.RabbitMQUri);
        builder.Services.AddSingleton<MyRepository>();
        using var host = builder.Build();
        // Every ValidateOnStart check, without starting (which would consume from the shared broker's default exchange).
        host.Services.GetRequiredService<IStartupValidator>().Validate();
    }

    [Fact]
    public void OperationsPageAndReadme_ShowTheHealthCheckMapping_AsCompiled()
    {
        DocSnippets.AssertShown("docs/operations.md", "tests/Postbox.Service.Tests/Docs/HealthMappingExample.cs", "map");
        DocSnippets.AssertShown("README.md", "tests/Postbox.Service.Tests/Docs/HealthMappingExample.cs", "map");
    }

    [Fact]
    public void OperationsPage_ShowsTheDeadLetterExampleAsCompiled() =>
        DocSnippets.AssertShown("docs/operations.md", "tests/Postbox.IntegrationTests/Docs/OperationsPageDeadLetters.cs", "replay");
}
