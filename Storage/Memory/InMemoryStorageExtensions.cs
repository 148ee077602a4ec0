using ChatNode.Storage.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace ChatNode.Storage.Memory;

public static class InMemoryStorageExtensions
{
    /// <summary>
    /// Puts <paramref name="store"/> behind every storage contract, replacing whatever backend was registered (call it
    /// after the node's own registration). Several nodes of one process may share one store, as a fleet shares Redis.
    /// The replaced backend's background services go with it, so nothing connects to a store that is not used.
    /// </summary>
    public static IServiceCollection UseInMemoryStorage(this IServiceCollection services, InMemoryStore store)
    {
        services.Replace(ServiceDescriptor.Singleton<IChatStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IMessageStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IInboxStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IClientStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IAttachmentStore>(store));
        services.Replace(ServiceDescriptor.Singleton<IStoreHealth>(store));
        if (services.FirstOrDefault(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(RedisShardMonitor)) is { } monitor)
        {
            services.Remove(monitor);
        }
        return services;
    }
}
