using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChatNode.Storage.Memory;

public static class InMemoryStorageExtensions
{
    /// <summary>
    /// Puts <paramref name="store"/> behind every storage contract, replacing whatever backend was registered (call it
    /// after the node's own registration). Several nodes of one process may share one store, as a fleet shares Redis.
    /// </summary>
    public static IServiceCollection UseInMemoryStorage(this IServiceCollection services, InMemoryStore store)
    {
        services.Replace(ServiceDescriptor.Singleton<IChatStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IMessageStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IInboxStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IClientStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IAttachmentStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IStoreHealth>(store));
        return services;
    }
}
