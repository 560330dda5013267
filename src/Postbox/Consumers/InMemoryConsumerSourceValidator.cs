using Microsoft.Extensions.Options;

namespace Postbox.Consumers;

/// <summary>The in-process transport has one queue per topic and ignores <see cref="HandlerOptions.Queue"/>: one handler per topic.</summary>
internal sealed class InMemoryConsumerSourceValidator(IEnumerable<HandlerRegistration> handlers) : IValidateOptions<ConsumerOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsumerOptions options)
    {
        var errors = new List<string>();
        SharedQueueCheck.Validate(handlers, static h => h.Topic, "in-process topic", errors, "the in-process transport has one queue per topic, so register one handler per topic");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
