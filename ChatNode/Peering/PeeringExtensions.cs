using ChatNode.Delivery;
using ChatNode.Fleet;
using ChatNode.Lifecycle;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Peering;

public static class PeeringExtensions
{
    /// <summary>Registers the peer streams: the forwarder (this node's <see cref="IRemoteDelivery"/>) and the gRPC service that receives.</summary>
    public static IServiceCollection AddPeering(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PeerOptions>().Bind(configuration.GetSection(PeerOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PeerOptions>, PeerOptionsValidator>());
        services.AddGrpc();
        services.TryAddSingleton<PeerMetrics>();
        services.TryAddSingleton<PeerAuth>();
        services.TryAddSingleton<RefusalLog>();
        services.TryAddSingleton<PeerForwarder>();
        services.TryAddSingleton<IRemoteDelivery>(sp => sp.GetRequiredService<PeerForwarder>());
        services.TryAddSingleton<IPeerDirectory>(sp => sp.GetRequiredService<PeerForwarder>());
        services.AddSingleton<ILifecycleParticipant>(sp => sp.GetRequiredService<PeerForwarder>());
        return services;
    }
}
