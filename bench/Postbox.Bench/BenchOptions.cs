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

    /// <summary><c>--help</c> or <c>-h</c>: print <see cref="Usage"/> and run nothing.</summary>
    public bool Help { get; private set; }

    // Upper bounds: far above any sensible run, low enough that no size overflows or clamps silently.
    private const int MaxMessages = 100_000_000;
    private const int MaxClients = 64;
    private const double MaxSeconds = 86_400;
    private const double MaxScale = 100;
    private const double MinScaledSeconds = 0.1;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions { CommandLine = "dotnet " + string.Join(' ', Environment.GetCommandLineArgs()) };

        // --smoke first wherever it stands, so that sizes given with it (before or after) always win.
        if (args.Contains("--smoke"))
        {
            o.ApplySmoke();
        }

        var scale = 1.0;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Next()
            {
                // A missing value must not swallow the next option (--drain-messages --no-write).
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"Option {name} needs a value.");
                }

                return args[++i];
            }

            double D(double min, double max, bool minExclusive = true)
            {
                var text = Next();
                var range = minExclusive ? $"greater than {min} and at most {max:#,0.##}" : $"from {min} to {max:#,0.##}";
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                    || !double.IsFinite(value) || value > max || (minExclusive ? value <= min : value < min))
                {
                    throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Option {name} takes a number {range} (was '{text}')."));
                }

                return value;
            }

            int I(int min, int max) => Whole(name, Next(), min, max);
            bool B()
            {
                var text = Next();
                return bool.TryParse(text, out var value) ? value : throw new ArgumentException($"Option {name} takes true or false (was '{text}').");
            }

            switch (name)
            {
                case "--help" or "-h": o.Help = true; break;
                case "--postgres": o.Postgres = Next(); break;
                case "--mysql": o.MySql = ConnectionString(name, Next(), static s => _ = new MySqlConnector.MySqlConnectionStringBuilder(s)); break;
                case "--rabbitmq": o.RabbitMQ = Next(); break;
                case "--scenarios":
                    // Replaces the scenarios, not a peer chosen with --peer: the order of the two options does not matter.
                    o.Scenarios.RemoveWhere(s => !PeerScenarios.Contains(s));
                    var names = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (names.Length == 0)
                    {
                        // A run of nothing would exit 0 with an empty table that looks like a result.
                        throw new ArgumentException($"Option --scenarios needs at least one scenario; known: {string.Join(", ", AllScenarios.Concat(PeerScenarios))}.");
                    }

                    foreach (var s in names)
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
                case "--peer-recovery-batch": o.PeerRecoveryBatch = I(1, 1_000_000); break;
                case "--peer-poll-ms": o.PeerPollMilliseconds = I(10, 3_600_000); break;
                case "--peer-confirms": o.PeerConfirms = B(); break;
                case "--peer-drain-messages": o.PeerDrainMessages = I(1, MaxMessages); break;
                case "--scale": scale = D(0, MaxScale); break;
                case "--producer-seconds": o.ProducerSeconds = D(0, MaxSeconds); break;
                case "--producer-clients": o.ProducerClients = I(1, MaxClients); break;
                case "--rounds": o.Rounds = I(1, 1000); break;
                case "--bulk-size": o.BulkSize = I(1, 100_000); break;
                case "--bulk-clients": o.BulkClients = I(1, MaxClients); break;
                case "--drain-messages": o.DrainMessages = I(1, MaxMessages); break;
                case "--drain-repeats": o.DrainRepeats = I(1, 1000); break;
                case "--payload-bytes": o.PayloadBytes = I(1, 1_000_000); break;
                case "--keys": o.Keys = I(0, MaxMessages); break;

                // The relay's own accepted ranges (RelayOptionsValidator): outside them its child process would not start.
                case "--batch-size": o.BatchSize = I(1, 10_000); break;
                case "--in-flight": o.InFlightBatches = I(1, 64); break;
                case "--raw-channels": o.RawChannels = I(1, MaxClients); break;
                case "--raw-window": o.RawWindow = I(1, 1_000_000); break;
                case "--drain-prototype": o.DrainPrototype = B(); break;
                case "--latency-seconds": o.LatencySeconds = D(0, MaxSeconds); break;
                case "--warmup-seconds": o.WarmupSeconds = D(0, MaxSeconds, minExclusive: false); break;
                case "--rates":
                    // "1,000" would read as the rates 1 and 0: rates below 1 are refused, with the separator named.
                    o.Rates = [.. Next().Split(',', StringSplitOptions.TrimEntries).Select(r => Whole(name, r, 1, 1_000_000, " (rates are comma-separated, without thousands separators)"))];
                    break;
                case "--poll-ms": o.PollMilliseconds = I(10, 3_600_000); break;
                case "--idle-seconds": o.IdleSeconds = D(0, MaxSeconds); break;
                case "--backlog-small": o.BacklogSmall = I(1, MaxMessages); break;
                case "--backlog-large": o.BacklogLarge = I(1, MaxMessages); break;
                case "--steady-rate": o.SteadyRate = I(1, 1_000_000); break;
                case "--steady-seconds": o.SteadySeconds = D(0, MaxSeconds); break;
                case "--steady-sample-seconds": o.SteadySampleSeconds = D(0, MaxSeconds); break;
                case "--ordering-messages": o.OrderingMessages = I(1, MaxMessages); break;
                case "--ordering-keys": o.OrderingKeys = I(1, MaxMessages); break;
                case "--ordering-rounds": o.OrderingRounds = I(1, 1000); break;
                case "--out": o.OutputDirectory = Next() is { Length: > 0 } directory && !string.IsNullOrWhiteSpace(directory)
                    ? directory
                    : throw new ArgumentException("Option --out needs a directory."); break;
                case "--no-write": o.Write = false; break;
                case "--smoke": break;
                default: throw new ArgumentException($"Unknown option '{name}'. See --help.");
            }
        }

        if (scale != 1.0)
        {
            o.ApplyScale(scale);
        }

        // A smoke run checks the harness; its figures mean nothing, so it writes no results file unless asked to.
        if (o.Smoke && o.OutputDirectory is null)
        {
            o.Write = false;
        }

        return o;
    }

    /// <summary>A connection string the driver can parse (a malformed one is refused here, not in the middle of a run).</summary>
    private static string ConnectionString(string name, string text, Action<string> parse)
    {
        try
        {
            parse(text);
            return text;
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Option {name} is not a valid connection string: {ex.Message}", ex);
        }
    }

    private static int Whole(string name, string text, int min, int max, string hint = "")
    {
        // long first, so that 99999999999 is out of range rather than an OverflowException naming no option.
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Option {name} takes a whole number from {min:#,0} to {max:#,0}{hint} (was '{text}')."));
        }

        return (int)value;
    }

    /// <summary>One line per option with its default, for <c>--help</c>.</summary>
    public static string Usage()
    {
        // The defaults as written in the code; the connection strings as text, since the environment may hold a password.
        var d = new BenchOptions();
        return string.Create(CultureInfo.InvariantCulture, $"""
            Usage: dotnet Postbox.Bench.dll [options]   (bench/README.md explains each scenario)
              --scenarios a,b,...             {string.Join(',', AllScenarios)} (peer: {string.Join(',', PeerScenarios)})
              --peer wolverine                also run the peer (off)
              --scale x                       multiply durations and message counts, > 0 and <= {MaxScale} (1)
              --smoke                         tiny sizes, about 30 s; writes no file unless --out is given
              --producer-seconds s            {d.ProducerSeconds}
              --producer-clients n            {d.ProducerClients} (1-{MaxClients})
              --rounds n                      {d.Rounds}
              --bulk-size n, --bulk-clients n {d.BulkSize}, {d.BulkClients}
              --drain-messages n              {d.DrainMessages}
              --drain-repeats n               {d.DrainRepeats}
              --payload-bytes n               {d.PayloadBytes}
              --keys n                        {d.Keys} (0 = no key)
              --batch-size n                  {d.BatchSize} (1-10000, the relay's range)
              --in-flight n                   {d.InFlightBatches} (1-64, the relay's range)
              --raw-channels n, --raw-window n {d.RawChannels}, {d.RawWindow}
              --drain-prototype true|false    true
              --latency-seconds s             {d.LatencySeconds}
              --warmup-seconds s              {d.WarmupSeconds}
              --rates r1,r2,...               {string.Join(',', d.Rates)} (msg/s, comma-separated)
              --poll-ms n                     {d.PollMilliseconds} (10-3600000)
              --idle-seconds s                {d.IdleSeconds}
              --backlog-small n               {d.BacklogSmall}
              --backlog-large n               {d.BacklogLarge}
              --ordering-messages n           {d.OrderingMessages}
              --ordering-keys n               {d.OrderingKeys}
              --ordering-rounds n             {d.OrderingRounds}
              --steady-rate n                 {d.SteadyRate}
              --steady-seconds s              {d.SteadySeconds}
              --steady-sample-seconds s       {d.SteadySampleSeconds}
              --postgres cs                   127.0.0.1:5432, postgres/postgres (or POSTBOX_BENCH_POSTGRES)
              --mysql cs                      127.0.0.1:3306, postbox/postbox, no database (or POSTBOX_BENCH_MYSQL, POSTBOX_TEST_MYSQL)
              --rabbitmq uri                  amqp://guest:guest@127.0.0.1:5672/ (or POSTBOX_BENCH_RABBITMQ)
              --peer-drain-messages n         drain messages / 10, at least 100
              --peer-recovery-batch n         {d.PeerRecoveryBatch}
              --peer-poll-ms n                {d.PeerPollMilliseconds}
              --peer-confirms true|false      true
              --out dir                       bench/results (file yyyy-MM-dd-HHmm.md, UTC)
              --no-write                      print the table only
              --help, -h                      this text
            Counts and durations must be above 0 (--keys and --warmup-seconds may be 0); each option's range is named when a value is refused.
            """);
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
        // Scaled sizes keep the options' bounds: a size beyond them is refused rather than clamped or overflowed.
        int Count(string option, int value, int floor) => value * scale <= MaxMessages
            ? Math.Max(floor, (int)(value * scale))
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Option --scale {scale} makes {option} {value * scale:#,0}, above its maximum {MaxMessages:#,0}."));
        double Scaled(string option, double value, double max) => value * scale switch
        {
            var scaled when scaled > max => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Option --scale {scale} makes {option} {scaled:#,0}, above its maximum {max:#,0}.")),
            // A duration scaled to (nearly) nothing measures nothing, and the idle target would read "met" over 0 s.
            var scaled when scaled < MinScaledSeconds => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Option --scale {scale} makes {option} {scaled:0.###} s, below its minimum {MinScaledSeconds} s.")),
            var scaled => scaled,
        };

        ProducerSeconds = Scaled("--producer-seconds", ProducerSeconds, MaxSeconds);
        DrainMessages = Count("--drain-messages", DrainMessages, 100);
        LatencySeconds = Scaled("--latency-seconds", LatencySeconds, MaxSeconds);
        IdleSeconds = Scaled("--idle-seconds", IdleSeconds, MaxSeconds);
        BacklogSmall = Count("--backlog-small", BacklogSmall, 100);
        BacklogLarge = Count("--backlog-large", BacklogLarge, 1000);
        OrderingMessages = Count("--ordering-messages", OrderingMessages, 300);
        SteadySeconds = Scaled("--steady-seconds", SteadySeconds, MaxSeconds);
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
