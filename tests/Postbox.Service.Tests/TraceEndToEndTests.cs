using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Postbox.Service.Tests.Infrastructure;

namespace Postbox.Service.Tests;

/// <summary>
/// One mail is one trace, as the service's real OTLP exporter sends it (http/protobuf) to a receiver the test hosts:
/// <c>POST /api/mail/send</c> (ASP.NET Core server span) → <c>create mail.send</c> (the enqueue) → <c>send mail.send</c>
/// (the relay's publish) → <c>process mail.send</c> (the worker's handling) → <c>smtp send</c> (MailKit's send), each the
/// previous one's child, with the messaging semantic-convention attributes and the outbox wait on the send span.
/// </summary>
public sealed class TraceEndToEndTests
{
    [Fact]
    public async Task MailSend_OnSqliteAndInProcessTransport_IsOneTraceFromRequestToSmtp()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var smtp = new SmtpSink();
        await smtp.StartAsync();
        await using var service = await ServiceOnSqlite.StartAsync(
            ["--smtp-host", "127.0.0.1", "--smtp-port", smtp.Port.ToString(CultureInfo.InvariantCulture), "--Mail:Smtp:Timeout=00:00:10"],
            receiver.ExporterEnvironment("postbox-service"));

        using var response = await service.Client.PostAsJsonAsync("/api/mail/send",
            new { from = "from@example.com", to = new[] { "to@example.com" }, subject = "traced", content = "hello" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await TestEnvironment.WaitUntilAsync(
            async () => (await service.Client.GetFromJsonAsync<JsonElement>($"/api/mail/{id}")).GetProperty("status").GetString() == "sent",
            TimeSpan.FromSeconds(60), $"mail {id} to be sent. Service:\n{service.Process.Output}\nSMTP:\n{smtp.Output}");

        var path = await MailTrace.WaitAsync(receiver, id, service.Process.Output);
        path.AssertLinked(messagingSystem: "postbox", smtpPort: smtp.Port);
        Assert.All(path.Hops, s => Assert.Equal("postbox-service", s.Service));

        // The same exporter carries the metrics the docs name (Postbox's meter and ASP.NET Core's).
        string[] metrics = ["postbox.relay.published", "postbox.consumer.consumed", "postbox.consumer.succeeded", "postbox.consumer.handler.duration",
            "postbox.relay.batch.duration", "postbox.outbox.oldest_pending.age", "http.server.request.duration"];
        await TestEnvironment.WaitUntilAsync(() => Task.FromResult(metrics.All(receiver.MetricNames.Contains)), TimeSpan.FromSeconds(30),
            $"the metrics {string.Join(", ", metrics)}; received: {string.Join(", ", receiver.MetricNames.Order(StringComparer.Ordinal))}");
    }

    [Fact]
    public async Task MailSend_AcrossApiRelayAndWorkerOnPostgresAndRabbitMQ_IsOneTraceThroughTheBroker()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var service = new DistributedService(maxAttempts: 3) { RoleEnvironment = role => receiver.ExporterEnvironment("postbox-" + role) };
        await service.StartAsync();

        var id = await service.SendMailAsync("traced");
        await service.WaitForMailStatusAsync(id, "sent");

        var path = await MailTrace.WaitAsync(receiver, id, $"API:\n{service.Api.Output}\nRelay:\n{service.Relay.Output}\nWorker:\n{service.Worker.Output}");
        path.AssertLinked(messagingSystem: "rabbitmq", smtpPort: service.Smtp.Port);

        // Three processes, one trace: the context crossed the outbox row (api → relay) and the AMQP headers (relay → worker).
        Assert.Equal("postbox-api", path.Server.Service);
        Assert.Equal("postbox-api", path.Create.Service);
        Assert.Equal("postbox-relay", path.Send.Service);
        Assert.Equal("postbox-worker", path.Process.Service);
        Assert.Equal("postbox-worker", path.Smtp.Service);
        Assert.Equal(service.Exchange, path.Send.Attributes["messaging.destination.name"]);
        Assert.Equal("mail.send", path.Send.Attributes["messaging.rabbitmq.destination.routing_key"]);
        Assert.Equal("rabbitmq", path.Process.Attributes["messaging.system"]);

        // Npgsql's instrumentation: the request's SQL (the INSERTs of the delivery and the outbox row) is in the trace,
        // under the server span.
        Assert.Contains(path.Trace, s => s.Scope == "Npgsql" && s.ParentSpanId == path.Server.SpanId && s.Service == "postbox-api");
    }

    /// <summary>The spans of one mail's trace, found by the delivery id on the SMTP span.</summary>
    private sealed record MailTrace(IReadOnlyList<OtlpSpan> Trace, OtlpSpan Server, OtlpSpan Create, OtlpSpan Send, OtlpSpan Process, OtlpSpan Smtp)
    {
        public IReadOnlyList<OtlpSpan> Hops => [Server, Create, Send, Process, Smtp];

        public static async Task<MailTrace> WaitAsync(OtlpReceiver receiver, Guid deliveryId, string output)
        {
            MailTrace? found = null;
            await TestEnvironment.WaitUntilAsync(() =>
            {
                found = TryFind(receiver.Spans, deliveryId);
                return Task.FromResult(found is not null);
            }, TimeSpan.FromSeconds(30), $"the trace of mail {deliveryId} (server, create, send, process and smtp spans). Received {receiver.TraceRequests} " +
                $"export requests:\n{string.Join('\n', receiver.Spans)}\n{output}");
            return found!;
        }

        private static MailTrace? TryFind(IReadOnlyList<OtlpSpan> spans, Guid deliveryId)
        {
            var smtp = spans.SingleOrDefault(s => s.Scope == "Postbox.Service" && s.Name == "smtp send" &&
                Equals(s.Attributes.GetValueOrDefault("postbox.mail.delivery_id"), deliveryId.ToString()));
            if (smtp is null)
            {
                return null;
            }

            var trace = spans.Where(s => s.TraceId == smtp.TraceId).ToList();
            var server = trace.FirstOrDefault(s => s.Kind == OtlpSpan.KindServer && Equals(s.Attributes.GetValueOrDefault("http.route"), "/api/mail/send"));
            var create = trace.FirstOrDefault(s => s.Scope == "Postbox" && s.Name == "create mail.send");
            var send = trace.FirstOrDefault(s => s.Scope == "Postbox" && s.Name == "send mail.send");
            var process = trace.FirstOrDefault(s => s.Scope == "Postbox" && s.Name == "process mail.send");
            return server is null || create is null || send is null || process is null ? null : new MailTrace(trace, server, create, send, process, smtp);
        }

        public void AssertLinked(string messagingSystem, int smtpPort)
        {
            var dump = string.Join('\n', Trace);
            // One of each: a second send or process span would mean a retry this test did not provoke.
            Assert.True(Trace.Count(s => s.Name == "create mail.send") == 1, dump);
            Assert.True(Trace.Count(s => s.Name == "send mail.send") == 1, dump);
            Assert.True(Trace.Count(s => s.Name == "process mail.send") == 1, dump);

            Assert.True(Server.ParentSpanId.Length == 0, $"the request starts the trace:\n{dump}");
            Assert.True(Create.ParentSpanId == Server.SpanId, $"create's parent is the server span:\n{dump}");
            Assert.True(Send.ParentSpanId == Create.SpanId, $"send's parent is the create span (context stored in the outbox row):\n{dump}");
            Assert.True(Process.ParentSpanId == Send.SpanId, $"process's parent is the send span (context carried in the message headers):\n{dump}");
            Assert.True(Smtp.ParentSpanId == Process.SpanId, $"smtp send's parent is the process span:\n{dump}");

            Assert.Equal("POST /api/mail/send", Server.Name);
            Assert.Equal(OtlpSpan.KindProducer, Create.Kind);
            Assert.Equal(OtlpSpan.KindProducer, Send.Kind);
            Assert.Equal(OtlpSpan.KindConsumer, Process.Kind);
            Assert.Equal(OtlpSpan.KindClient, Smtp.Kind);

            Assert.Equal("create", Create.Attributes["messaging.operation.type"]);
            Assert.Equal("send", Send.Attributes["messaging.operation.type"]);
            Assert.Equal("process", Process.Attributes["messaging.operation.type"]);
            Assert.Equal("postbox", Create.Attributes["messaging.system"]);
            Assert.Equal(messagingSystem, Send.Attributes["messaging.system"]);
            Assert.Equal("mail.send", Create.Attributes["messaging.destination.name"]);
            Assert.Equal("mail.send", Process.Attributes["messaging.destination.name"]);
            Assert.Equal("mail-sender", Process.Attributes["messaging.consumer.group.name"]);
            var messageId = Assert.IsType<string>(Create.Attributes["messaging.message.id"]);
            Assert.True(Guid.TryParse(messageId, out _), messageId);
            Assert.Equal(messageId, Send.Attributes["messaging.message.id"]);
            Assert.Equal(messageId, Process.Attributes["messaging.message.id"]);
            Assert.Equal(1L, Send.Attributes["postbox.attempt"]);
            Assert.Equal(1L, Process.Attributes["postbox.attempt"]);
            // The outbox wait: seconds from the enqueue to the publish (its value is timing, so only its presence is checked).
            var wait = Assert.IsType<double>(Send.Attributes["postbox.outbox.wait_time"]);
            Assert.True(wait >= 0, dump);
            Assert.Equal((long)smtpPort, Smtp.Attributes["server.port"]);
        }
    }
}
