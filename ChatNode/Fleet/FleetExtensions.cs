using ChatNode.Lifecycle;
using ChatNode.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Fleet;

public static class FleetExtensions
{
    /// <summary>
    /// Registers the node's place in the fleet: the registry, the ownership views, ring following, the handoff loop and
    /// the node's lifecycle (join, drain). The peer directory (<see cref="IPeerDirectory"/>) comes from the peering layer.
    /// </summary>
    public static IServiceCollection AddFleet(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<FleetOptions>().Bind(configuration.GetSection(FleetOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<FleetOptions>, FleetOptionsDefaults>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FleetOptions>, FleetOptionsValidator>());
        services.AddClusterRegistry(configuration);
        services.TryAddSingleton<FleetMetrics>();
        services.TryAddSingleton<Ownership>();
        services.TryAddSingleton<ConnectionDrainer>();
        services.TryAddSingleton<HandoffLoop>();
        services.TryAddSingleton<NodeLifecycle>();
        services.AddSingleton<ILifecycleParticipant, RingFollower>();
        services.AddSingleton<ILifecycleParticipant>(sp => sp.GetRequiredService<HandoffLoop>());
        services.AddSingleton<ILifecycleParticipant>(sp => sp.GetRequiredService<NodeLifecycle>());
        return services;
    }
}
