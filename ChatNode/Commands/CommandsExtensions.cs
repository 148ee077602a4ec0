using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Commands;

public static class CommandsExtensions
{
    /// <summary>Registers the command dispatcher, its limits (section <c>Node</c>) and metrics.</summary>
    public static IServiceCollection AddCommands(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CommandOptions>().Bind(configuration.GetSection(CommandOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CommandOptions>, CommandOptionsValidator>());
        services.TryAddSingleton<CommandMetrics>();
        services.TryAddSingleton<UserQuotas>();
        services.TryAddSingleton<CommandDispatcher>();
        return services;
    }
}
