namespace Postbox.Service.Mail;

/// <summary>
/// What <see cref="MailDeliveryStore.TryStartSendingAsync"/> decided: send <see cref="Mail"/> (this attempt is counted),
/// nothing (already sent, held, or unknown), or <see cref="Held"/>: an earlier attempt handed the end of data to the
/// server and never learned the answer, so the delivery is now held as unconfirmed instead of being sent again.
/// </summary>
internal sealed record SendStart(MailToSend? Mail, bool WasHeld)
{
    public static SendStart Nothing { get; } = new(null, false);

    public static SendStart Held { get; } = new(null, true);

    public static SendStart Send(MailToSend mail) => new(mail, false);
}
