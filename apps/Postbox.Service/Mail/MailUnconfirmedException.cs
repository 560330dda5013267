namespace Postbox.Service.Mail;

/// <summary>
/// The end of the mail was handed to the SMTP server, and then the conversation failed before its answer (connection
/// lost, time-out, shutdown): the server may or may not have accepted the mail. <see cref="Exception.InnerException"/> is
/// what failed.
/// </summary>
internal sealed class MailUnconfirmedException : Exception
{
    public MailUnconfirmedException()
    {
    }

    public MailUnconfirmedException(string message)
        : base(message)
    {
    }

    public MailUnconfirmedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
