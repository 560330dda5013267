using System.Globalization;

namespace Postbox.Bench;

/// <summary>Sizes and switches of one benchmark run, parsed from <c>--name value</c> pairs.</summary>
internal sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["producer", "drain", "latency", "idle", "backlog", "ordering", "claim", "mysql", "steady"];

    /// <summary>Peers: the same scenarios run against another outbox; not in the default run (selected with <c>--peer</c> or <c>--scenarios</c>).</summary>
    public static readonly string[] PeerScenarios = ["wolverine"];

    // The peer (Wolverine): its durability settings, listed with why in bench/README.md.
    public int PeerRecoveryBatch { get; set; } = 5000;
    public int PeerPollMilliseconds { get; set; } = 1000;
    public bool PeerConfirms { get; set; } = true;

    /// <summary>The peer's drain size: a tenth of Postbox's by default (it sends one confirmed publish at a time).</summary>
    public int PeerDrainMessages { get => _peerDrainMessages ?? Math.Max(100, DrainMessages / 10); set => _peerDrainMessages = value; }

    private int? _peerDrainMessages;

    public string Postgres { get; set; } = Environment.GetEnvironmentVariable("POSTBOX_BENCH_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres";

    /// <summary>A MariaDB/MySQL server (no database: the run creates its own) for the <c>mysql</c> scenario.</summary>
    public string MySql { get; set; } = Environment.GetEnvironmentVariable("POSTBOX_BENCH_MYSQL")
        ?? Environment.GetEnvironmentVariable("POSTBOX_TEST_MYSQL") ?? "Server=127.0.0.1;Port=3306;User ID=postbox;Password=postbox";

    public string RabbitMQ { get; set; } = Environment.GetEnvironmentVariable("POSTBOX_BENCH_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:5672/";

    public HashSet<string> Scenarios { get; } = new(AllScenarios, StringComparer.Ordinal);

    // 1. Producer cost.
    public double ProducerSeconds { get; set; } = 20;
    public int ProducerClients { get; set; } = 16;
    public int Rounds { get; set; } = 4;
    public int BulkSize { get; set; } = 1000;
    public int BulkClients { get; set; } = 4;

    // 2. Drain (and 6. memory).
    public int DrainMessages { get; set; } = 200_000;
    public int DrainRepeats { get; set; } = 3;
    public int PayloadBytes { get; set; } = 256;
    public int Keys { get; set; }
    public int BatchSize { get; set; } = 500;
    public int InFlightBatches { get; set; } = 4;
    public int RawChannels { get; set; } = 2;
    public int RawWindow { get; set; } = 2000;

    /// <summary>Also drain with the lock-only claim prototype (<c>lockrelay</c>) in each repeat; keyless drains only.</summary>
    public bool DrainPrototype { get; set; } = true;

    // 3. Latency.
    public double LatencySeconds { get; set; } = 30;
    public double WarmupSeconds { get; set; } = 3;
    public int[] Rates { get; set; } = [100, 1000, 5000];
    public int PollMilliseconds { get; set; } = 1000;

    // 4. Idle.
    public double IdleSeconds { get; set; } = 60;

    // 5. Backlog.
    public int BacklogSmall { get; set; } = 10_000;
    public int BacklogLarge { get; set; } = 1_000_000;

    // 9. Steady load (storage over time).
    public int SteadyRate { get; set; } = 2_000;

    public double SteadySeconds { get; set; } = 600;

    public double SteadySampleSeconds { get; set; } = 10;

    // 7. Ordering cost at the consumer.
    public int OrderingMessages { get; set; } = 20_000;
    public int OrderingKeys { get; set; } = 1000;
    public int OrderingRounds { get; set; } = 3;

    public string? OutputDirectory { get; set; }
    public bool Write { get; set; } = true;
    public bool Smoke { get; set; }
    public string CommandLine { get; set; } = "";

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions { CommandLine = "dotnet " + string.Join(' ', Environment.GetCommandLineArgs()) };
        var scale = 1.0;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"Option {name} needs a value.");
            double D() => double.Parse(Next(), CultureInfo.InvariantCulture);
            int I() => int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            switch (name)
            {
                case "--postgres": o.Postgres = Next(); break;
                case "--mysql": o.MySql = Next(); break;
                case "--rabbitmq": o.RabbitMQ = Next(); break;
                case "--scenarios":
                    // Replaces the scenarios, not a peer chosen with --peer: the order of the two options does not matter.
                    o.Scenarios.RemoveWhere(s => !PeerScenarios.Contains(s));
                    foreach (var s in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!AllScenarios.Contains(s) && !PeerScenarios.Contains(s))
                        {
                            throw new ArgumentException($"Unknown scenario '{s}'; known: {string.Join(", ", AllScenarios.Concat(PeerScenarios))}.");
                        }

                        o.Scenarios.Add(s);
                    }

                    break;
                case "--peer":
                    var peer = Next();
                    if (!PeerScenarios.Contains(peer))
                    {
                        throw new ArgumentException($"Unknown peer '{peer}'; known: {string.Join(", ", PeerScenarios)}.");
                    }

                    o.Scenarios.Add(peer);
                    break;
                case "--peer-recovery-batch": o.PeerRecoveryBatch = I(); break;
                case "--peer-poll-ms": o.PeerPollMilliseconds = I(); break;
                case "--peer-confirms": o.PeerConfirms = bool.Parse(Next()); break;
                case "--peer-drain-messages": o.PeerDrainMessages = I(); break;
                case "--scale": scale = D(); break;
                case "--producer-seconds": o.ProducerSeconds = D(); break;
                case "--producer-clients": o.ProducerClients = I(); break;
                case "--rounds": o.Rounds = I(); break;
                case "--bulk-size": o.BulkSize = I(); break;
                case "--bulk-clients": o.BulkClients = I(); break;
                case "--drain-messages": o.DrainMessages = I(); break;
                case "--drain-repeats": o.DrainRepeats = I(); break;
                case "--payload-bytes": o.PayloadBytes = I(); break;
                case "--keys": o.Keys = I(); break;
                case "--batch-size": o.BatchSize = I(); break;
                case "--in-flight": o.InFlightBatches = I(); break;
                case "--raw-channels": o.RawChannels = I(); break;
                case "--raw-window": o.RawWindow = I(); break;
                case "--drain-prototype": o.DrainPrototype = bool.Parse(Next()); break;
                case "--latency-seconds": o.LatencySeconds = D(); break;
                case "--warmup-seconds": o.WarmupSeconds = D(); break;
                case "--rates": o.Rates = [.. Next().Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture))]; break;
                case "--poll-ms": o.PollMilliseconds = I(); break;
                case "--idle-seconds": o.IdleSeconds = D(); break;
                case "--backlog-small": o.BacklogSmall = I(); break;
                case "--backlog-large": o.BacklogLarge = I(); break;
                case "--steady-rate": o.SteadyRate = I(); break;
                case "--steady-seconds": o.SteadySeconds = D(); break;
                case "--steady-sample-seconds": o.SteadySampleSeconds = D(); break;
                case "--ordering-messages": o.OrderingMessages = I(); break;
                case "--ordering-keys": o.OrderingKeys = I(); break;
                case "--ordering-rounds": o.OrderingRounds = I(); break;
                case "--out": o.OutputDirectory = Next(); break;
                case "--no-write": o.Write = false; break;
                case "--smoke": o.ApplySmoke(); break;
                default: throw new ArgumentException($"Unknown option '{name}'. See bench/README.md.");
            }
        }

        if (scale != 1.0)
        {
            o.ApplyScale(scale);
        }

        return o;
    }

    /// <summary>Tiny sizes: every scenario in a few seconds, to keep the harness from rotting (not for figures).</summary>
    private void ApplySmoke()
    {
        Smoke = true;
        ProducerSeconds = 0.6;
        ProducerClients = 4;
        Rounds = 1;
        BulkSize = 50;
        BulkClients = 2;
        DrainMessages = 500;
        DrainRepeats = 1;
        LatencySeconds = 0.6;
        WarmupSeconds = 0.2;
        Rates = [200];
        PollMilliseconds = 100;
        IdleSeconds = 1;
        BacklogSmall = 200;
        BacklogLarge = 1000;
        OrderingMessages = 300;
        OrderingKeys = 50;
        OrderingRounds = 1;
        SteadyRate = 200;
        SteadySeconds = 2;
        SteadySampleSeconds = 0.5;
    }

    private void ApplyScale(double scale)
    {
        ProducerSeconds *= scale;
        DrainMessages = Math.Max(100, (int)(DrainMessages * scale));
        LatencySeconds *= scale;
        IdleSeconds *= scale;
        BacklogSmall = Math.Max(100, (int)(BacklogSmall * scale));
        BacklogLarge = Math.Max(1000, (int)(BacklogLarge * scale));
        OrderingMessages = Math.Max(300, (int)(OrderingMessages * scale));
        SteadySeconds *= scale;
    }

    private string PeerDescription => Scenarios.Contains("wolverine")
        ? string.Create(CultureInfo.InvariantCulture, $"peer Wolverine: drain {PeerDrainMessages:N0} msgs × 1, recovery batch {PeerRecoveryBatch}, polling {PeerPollMilliseconds} ms, confirms {PeerConfirms}; ")
        : "";

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"producer {ProducerSeconds:0.#} s × 6 modes, {ProducerClients} clients, {Rounds} alternating rounds; bulk {BulkSize}/tx, {BulkClients} clients; " +
        $"drain {DrainMessages:N0} msgs × {DrainRepeats}, payload {PayloadBytes} B, keys {Keys}, batch {BatchSize} × {InFlightBatches} in flight{(DrainPrototype && Keys == 0 ? ", with the lock-only claim prototype" : "")}; " +
        $"raw publisher {RawChannels} channels, {RawWindow} unconfirmed; latency {LatencySeconds:0.#} s at {string.Join('/', Rates)} msg/s (+{WarmupSeconds:0.#} s warm-up), poll {PollMilliseconds} ms; " +
        $"idle {IdleSeconds:0.#} s; {PeerDescription}backlog {BacklogSmall:N0} vs {BacklogLarge:N0}; ordering {OrderingMessages:N0} msgs over {OrderingKeys:N0} keys × {OrderingRounds} rounds; " +
        $"steady {SteadyRate:N0} msg/s for {SteadySeconds:0.#} s, sampled every {SteadySampleSeconds:0.#} s");
}
