using System.Collections.Concurrent;
using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Postbox.Service.Tests.Infrastructure;

/// <summary>
/// A minimal OTLP/HTTP receiver on 127.0.0.1 (random port): what the service's real OTLP exporter sends with
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf</c> arrives at <c>/v1/traces</c>, <c>/v1/metrics</c> and <c>/v1/logs</c>.
/// Trace requests are decoded from the protobuf wire format (<see cref="OtlpWire"/>); of metrics, the names are kept.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();
    private readonly ConcurrentDictionary<string, bool> _metricNames = new(StringComparer.Ordinal);

    private OtlpReceiver(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";

    public IReadOnlyList<OtlpSpan> Spans => [.. _spans];

    public IReadOnlyCollection<string> MetricNames => [.. _metricNames.Keys];

    private int _traceRequests;

    public int TraceRequests => Volatile.Read(ref _traceRequests);

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            foreach (var span in OtlpWire.DecodeTraces(await ReadAsync(request)))
            {
                receiver._spans.Enqueue(span);
            }

            Interlocked.Increment(ref receiver._traceRequests);
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/metrics", async (HttpRequest request) =>
        {
            foreach (var name in OtlpWire.DecodeMetricNames(await ReadAsync(request)))
            {
                receiver._metricNames[name] = true;
            }

            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/logs", () => Results.Bytes([], "application/x-protobuf"));
        await app.StartAsync();
        receiver.Endpoint = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return receiver;
    }

    /// <summary>The environment that points a service's OTLP exporter here, exporting every 100 ms.</summary>
    public Dictionary<string, string> ExporterEnvironment(string serviceName) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_SERVICE_NAME"] = serviceName,
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
    };

    private static async Task<byte[]> ReadAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        if (string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer);
        }
        else
        {
            await request.Body.CopyToAsync(buffer);
        }

        return buffer.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One span as exported (ids in lower-case hex; parent empty for a root).</summary>
public sealed record OtlpSpan(string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind,
    IReadOnlyDictionary<string, object> Attributes, IReadOnlyList<(string TraceId, string SpanId)> Links)
{
    public const int KindServer = 2;
    public const int KindClient = 3;
    public const int KindProducer = 4;
    public const int KindConsumer = 5;

    public override string ToString() =>
        $"{Service}/{Scope} '{Name}' kind {Kind} trace {TraceId} span {SpanId} parent {(ParentSpanId.Length == 0 ? "-" : ParentSpanId)} " +
        $"{{{string.Join(", ", Attributes.Select(a => $"{a.Key}={a.Value}"))}}}";
}

/// <summary>
/// Reads OTLP's protobuf messages (opentelemetry/proto, v1) from the wire format: only the fields the tests need. No
/// OTLP proto package is served here, and the format is small enough to read by hand.
/// </summary>
public static class OtlpWire
{
    /// <summary>ExportTraceServiceRequest: resource_spans = 1 → (resource = 1, scope_spans = 2 → (scope = 1, spans = 2)).</summary>
    public static List<OtlpSpan> DecodeTraces(byte[] request)
    {
        var spans = new List<OtlpSpan>();
        foreach (var (field, resourceSpans) in Fields(request))
        {
            if (field != 1)
            {
                continue;
            }

            var service = "";
            var scopes = new List<byte[]>();
            foreach (var (f, value) in Fields((byte[])resourceSpans))
            {
                if (f == 1)
                {
                    service = Attributes((byte[])value, 1).GetValueOrDefault("service.name") as string ?? "";
                }
                else if (f == 2)
                {
                    scopes.Add((byte[])value);
                }
            }

            foreach (var scopeSpans in scopes)
            {
                var scope = "";
                foreach (var (f, value) in Fields(scopeSpans))
                {
                    if (f == 1)
                    {
                        scope = Fields((byte[])value).Where(x => x.Field == 1).Select(x => Text(x.Value)).FirstOrDefault() ?? "";
                    }
                    else if (f == 2)
                    {
                        spans.Add(Span(service, scope, (byte[])value));
                    }
                }
            }
        }

        return spans;
    }

    /// <summary>ExportMetricsServiceRequest: resource_metrics = 1 → scope_metrics = 2 → metrics = 2 → name = 1.</summary>
    public static IEnumerable<string> DecodeMetricNames(byte[] request) =>
        from r in Fields(request).Where(x => x.Field == 1)
        from s in Fields((byte[])r.Value).Where(x => x.Field == 2)
        from m in Fields((byte[])s.Value).Where(x => x.Field == 2)
        from n in Fields((byte[])m.Value).Where(x => x.Field == 1)
        select Text(n.Value);

    // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9, links 13 (trace_id 1, span_id 2).
    private static OtlpSpan Span(string service, string scope, byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        var links = new List<(string, string)>();
        foreach (var (f, value) in Fields(span))
        {
            switch (f)
            {
                case 1: traceId = Convert.ToHexStringLower((byte[])value); break;
                case 2: spanId = Convert.ToHexStringLower((byte[])value); break;
                case 4: parent = Convert.ToHexStringLower((byte[])value); break;
                case 5: name = Text(value); break;
                case 6: kind = (int)(ulong)value; break;
                case 13:
                    var link = Fields((byte[])value).ToList();
                    links.Add((Convert.ToHexStringLower((byte[])link.First(x => x.Field == 1).Value), Convert.ToHexStringLower((byte[])link.First(x => x.Field == 2).Value)));
                    break;
            }
        }

        return new OtlpSpan(service, scope, traceId, spanId, parent, name, kind, Attributes(span, 9), links);
    }

    // KeyValue: key 1, value 2 (AnyValue: string 1, bool 2, int 3, double 4).
    private static Dictionary<string, object> Attributes(byte[] message, int field)
    {
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (f, keyValue) in Fields(message))
        {
            if (f != field)
            {
                continue;
            }

            string? key = null;
            object? value = null;
            foreach (var (kf, kv) in Fields((byte[])keyValue))
            {
                if (kf == 1)
                {
                    key = Text(kv);
                }
                else if (kf == 2)
                {
                    foreach (var (vf, v) in Fields((byte[])kv))
                    {
                        value = vf switch
                        {
                            1 => Text(v),
                            2 => (ulong)v != 0,
                            3 => (long)(ulong)v,
                            4 => BitConverter.Int64BitsToDouble((long)(ulong)v),
                            _ => v,
                        };
                    }
                }
            }

            if (key is not null && value is not null)
            {
                attributes[key] = value;
            }
        }

        return attributes;
    }

    private static string Text(object value) => System.Text.Encoding.UTF8.GetString((byte[])value);

    /// <summary>The fields of one message: varints and fixed numbers as <see cref="ulong"/>, length-delimited ones as bytes.</summary>
    public static IEnumerable<(int Field, object Value)> Fields(byte[] message)
    {
        var position = 0;
        var fields = new List<(int, object)>();
        while (position < message.Length)
        {
            var tag = Varint(message, ref position);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    fields.Add((field, Varint(message, ref position)));
                    break;
                case 1:
                    fields.Add((field, BitConverter.ToUInt64(message, position)));
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref position);
                    fields.Add((field, message.AsSpan(position, length).ToArray()));
                    position += length;
                    break;
                case 5:
                    fields.Add((field, (ulong)BitConverter.ToUInt32(message, position)));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {tag & 7} at byte {position}.");
            }
        }

        return fields;
    }

    private static ulong Varint(byte[] buffer, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = buffer[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
