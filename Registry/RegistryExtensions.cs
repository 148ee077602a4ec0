using ChatNode.Registry.Etcd;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ChatNode.Registry;

public static class RegistryExtensions
{
    /// <summary>
    /// Registers <see cref="IClusterRegistry"/>: etcd when <c>Registry:Endpoints</c> is set, otherwise a single-node
    /// registry. The caller starts it, registers the node and disposes it (the node's fleet membership service does).
    /// </summary>
    public static IServiceCollection AddClusterRegistry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RegistryOptions>().Bind(configuration.GetSection(RegistryOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistryOptions>, RegistryOptionsValidator>());
        services.TryAddSingleton<IClusterRegistry>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<RegistryOptions>>();
            return options.Value.Endpoints.Length == 0
                ? new StaticRegistry()
                : new EtcdRegistry(options, sp.GetRequiredService<ILogger<EtcdRegistry>>(), sp.GetService<TimeProvider>());
        });
        return services;
    }
}
