using ChatNode.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Infrastructure;

public static class ServiceProviderExtensions
{
    public static IInboxStore GetInbox(this IServiceProvider services) => services.GetRequiredService<IInboxStore>();

    public static IMessageStore GetMessages(this IServiceProvider services) => services.GetRequiredService<IMessageStore>();
}
