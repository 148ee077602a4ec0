using ChatNode.Lifecycle;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Connections;

public static class ConnectionsExtensions
{
    /// <summary>Registers the connection registry, the close schedule, the keep-alive sweep, their options (section <c>Node</c>) and metrics.</summary>
    public static IServiceCollection AddConnections(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ConnectionOptions>().Bind(configuration.GetSection(ConnectionOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ConnectionOptions>, ConnectionOptionsValidator>());
        services.TryAddSingleton<ConnectionMetrics>();
        services.TryAddSingleton<ConnectionRegistry>();
        services.TryAddSingleton<CloseSchedule>();
        services.TryAddSingleton<KeepAliveSweep>();
        services.AddSingleton<ILifecycleParticipant>(sp => sp.GetRequiredService<KeepAliveSweep>());
        return services;
    }
}
