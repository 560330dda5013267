using Microsoft.Extensions.Hosting;
using Postbox.Kafka.Tests.Infrastructure;

namespace Postbox.Kafka.Tests;

/// <summary>Reviewer's scratch attacks on Kafka per-key order through the consumer runtime (rev14).</summary>
public sealed class Rev14KafkaScratchTests : IAsyncLifetime
{
    private readonly TestDatabase _db = new();

    public Task InitializeAsync() => _db.InitializeAsync();

    public Task DisposeAsync() => _db.DisposeAsync();

    [Fact]
    public async Task Rev14_Kafka_PerKeyOrderAtTheHandler_AcrossARestart()
    {
        var topic = MockKafka.NewTopic("rev14order");
        await MockKafka.CreateTopicAsync(topic, 4);
        var envelopes = Enumerable.Range(0, 640).Select(i => Hosts.Envelope(topic, $"k{i % 16}:{i / 16}", key: $"k{i % 16}")).ToList();
        await using (var transport = Hosts.Transport())
        {
            foreach (var e in envelopes)
            {
                await transport.PublishAsync(e, CancellationToken.None);
            }
        }

        var s1 = new HandlerScript { Delay = TimeSpan.FromMilliseconds(3) };
        var first = await Hosts.StartWorkerAsync(_db, topic, s1);
        await Eventually.HoldsAsync(async () => await _db.EffectsAsync() >= 150, TimeSpan.FromMinutes(1), "some handled");
        await first.StopAsync();
        first.Dispose();
        var s2 = new HandlerScript { Delay = TimeSpan.FromMilliseconds(1) };
        using var second = await Hosts.StartWorkerAsync(_db, topic, s2);
        await Eventually.HoldsAsync(async () => await _db.DistinctEffectsAsync() == 640, TimeSpan.FromMinutes(1), "all handled");
        await second.StopAsync();

        var seen = s1.Handled.Concat(s2.Handled).ToList();
        Assert.Equal(640, seen.Count);
        foreach (var g in seen.GroupBy(b => b.Split(':')[0]))
        {
            var seq = g.Select(b => int.Parse(b.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, 40), seq);
        }

        Assert.Equal(640, await _db.EffectsAsync());
    }

    [Fact]
    public async Task Rev14_Kafka_WorkerStartedBeforeItsTopicExists_HandlesItOnceCreated()
    {
        var topic = MockKafka.NewTopic("rev14late");
        var script = new HandlerScript();
        using var worker = await Hosts.StartWorkerAsync(_db, topic, script);
        await Task.Delay(3000);
        await MockKafka.CreateTopicAsync(topic, 2);
        await using (var transport = Hosts.Transport())
        {
            for (var i = 0; i < 20; i++)
            {
                await transport.PublishAsync(Hosts.Envelope(topic, $"m{i}", key: $"k{i % 3}"), CancellationToken.None);
            }
        }

        await Eventually.HoldsAsync(async () => await _db.DistinctEffectsAsync() == 20, TimeSpan.FromSeconds(60), "all handled after the topic appeared");
        await worker.StopAsync();
    }
}
