namespace Postbox.RabbitMQ.Connection;

/// <summary>A <c>basic.return</c> the broker sent for a mandatory message it could not route.</summary>
internal readonly record struct ReturnedMessage(ushort ReplyCode, string ReplyText);
