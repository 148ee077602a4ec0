using ChatNode.Lifecycle;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Delivery;

public static class DeliveryExtensions
{
    /// <summary>
    /// Registers the delivery pipeline and its sweeps. Pushes for users of other nodes leave through the
    /// <see cref="IRemoteDelivery"/> registered by the peering layer.
    /// </summary>
    public static IServiceCollection AddDelivery(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DeliveryOptions>().Bind(configuration.GetSection(DeliveryOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidator>());
        services.TryAddSingleton<DeliveryMetrics>();
        services.TryAddSingleton<DeliveryService>();
        services.AddSingleton<ILifecycleParticipant, RedeliverySweeper>();
        return services;
    }
}
