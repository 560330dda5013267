using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Postbox.Consumers;

namespace Postbox.Hosting;

/// <summary>
/// How many database connections Postbox's background work in this process can hold at the same moment, from the
/// configured options: for stores that check their connection pool at start-up (a pool smaller than this never
/// delivers, or delivers only by timing out). Resolve it from the container once the host is built.
/// </summary>
internal sealed class ConnectionDemand
{
    internal ConnectionDemand(int settlingBatches, bool relayEnabled, int handlerConcurrency, int handlers)
    {
        SettlingBatches = relayEnabled ? settlingBatches : 0;
        Relay = relayEnabled ? settlingBatches + 3 : 0;
        Handlers = handlerConcurrency;
        InboxBookkeeping = handlers > 0 ? 2 : 0;
    }

    /// <summary>
    /// Connections the relay needs at once: <see cref="Relay.RelayOptions.MaxInFlightBatches"/> settles, one claim, and
    /// the cleanup and monitoring loops (one each). Zero when the relay is disabled. <c>MaxInFlightBatches</c> bounds
    /// claimed, unsettled messages (<c>BatchSize</c> × it), not batches: under a trickle more, smaller batches may be
    /// settling at the same moment, and those beyond the pool's free connections wait for one (a settle is one short
    /// statement), so this is what the relay needs to make progress, not a ceiling on what it may borrow.
    /// </summary>
    public int Relay { get; }

    /// <summary>The settles counted in <see cref="Relay"/> (<see cref="Relay.RelayOptions.MaxInFlightBatches"/>).</summary>
    public int SettlingBatches { get; }

    /// <summary>Connections handlers hold at once: the sum of the registered handlers' <see cref="HandlerOptions.Concurrency"/>
    /// (each message being handled holds one connection for its inbox transaction, retries included).</summary>
    public int Handlers { get; }

    /// <summary>Connections the inbox's own work holds besides the handlers: the retry claim and the inbox cleanup (one
    /// each) when any handler is registered, else zero.</summary>
    public int InboxBookkeeping { get; }

    /// <summary>The sum: what one pool serving everything must allow at least.</summary>
    public int Total => Relay + Handlers + InboxBookkeeping;

    internal static ConnectionDemand Create(IServiceProvider services)
    {
        var relay = services.GetRequiredService<IOptions<PostboxOptions>>().Value.Relay;
        var handlers = services.GetServices<HandlerRegistration>().ToList();
        return new ConnectionDemand(relay?.MaxInFlightBatches ?? 0, relay?.Enabled ?? false, handlers.Sum(h => h.Options.Concurrency), handlers.Count);
    }
}
