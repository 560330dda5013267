namespace Postbox.Service.Customers;

/// <summary>Body of <c>POST /customers</c>.</summary>
/// <param name="Email">The customer's address (unique).</param>
/// <param name="Name">Display name, one line.</param>
internal sealed record CreateCustomerRequest(string? Email, string? Name);

/// <summary>A customer as the API shows it.</summary>
/// <param name="Id">The customer id.</param>
/// <param name="Email">The address.</param>
/// <param name="Name">The name.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="EventHandledCount">How many times the worker's <c>CustomerCreated</c> handler took effect: 1 once handled, whatever the redeliveries.</param>
/// <param name="EventHandledAt">When it did.</param>
internal sealed record CustomerView(Guid Id, string Email, string Name, DateTimeOffset CreatedAt, int EventHandledCount, DateTimeOffset? EventHandledAt);

/// <summary>The event published when a customer is created.</summary>
/// <param name="Id">The customer id.</param>
/// <param name="Name">The name.</param>
/// <param name="Email">The address.</param>
/// <param name="CreatedAt">Creation time.</param>
internal sealed record CustomerCreated(Guid Id, string Name, string Email, DateTimeOffset CreatedAt);
