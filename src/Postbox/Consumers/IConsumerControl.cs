namespace Postbox.Consumers;

/// <summary>Pauses and resumes message intake of this process (what SIGTSTP and SIGCONT do).</summary>
public interface IConsumerControl
{
    /// <summary>Whether intake is paused.</summary>
    bool IsPaused { get; }

    /// <summary>Stops taking new messages; in-flight and already delivered ones are still handled.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task PauseAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes messages again.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task ResumeAsync(CancellationToken cancellationToken = default);
}
