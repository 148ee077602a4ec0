using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ChatNode.Endpoints;

public static class EndpointsExtensions
{
    /// <summary>Registers what the routes of <see cref="HttpEndpoints"/> need beyond the features below them.</summary>
    public static IServiceCollection AddEndpoints(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DevOptions>().Bind(configuration.GetSection(DevOptions.Section)).ValidateOnStart();
        services.TryAddSingleton<WebSocketEndpoint>();
        services.TryAddSingleton<RawWebSocketHandler>();
        services.TryAddSingleton<ConnectRouter>();
        services.TryAddSingleton<AdminAuth>();
        services.TryAddSingleton<ListenerPlanes>();
        return services;
    }
}
