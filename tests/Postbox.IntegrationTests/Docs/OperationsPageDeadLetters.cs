using Microsoft.Extensions.DependencyInjection;
using Postbox.Consumers;
using Postbox.Storage;

namespace Postbox.IntegrationTests.Docs;

/// <summary>docs/operations.md's dead-letter example, compiled here and shown there unchanged (DocsExampleTests).</summary>
public static class OperationsPageDeadLetters
{
    public static async Task ReplayAsync(IServiceProvider services, CancellationToken ct)
    {
        // DOCS:replay:begin
        var monitor = services.GetRequiredService<IOutboxMonitor>();
        var dead = await monitor.ListDeadAsync(100, ct);
        await monitor.ReplayDeadAsync(dead.Select(d => d.Id).ToList(), ct); // ready again, fresh attempt budget

        var inbox = services.GetRequiredService<IInboxAdmin>();
        var deadLetters = await inbox.ListDeadAsync("billing", 100, ct);    // null: every consumer's
        await inbox.ReplayDeadAsync("billing", deadLetters.Select(d => d.MessageId).ToList(), ct);
        // DOCS:replay:end
    }
}
