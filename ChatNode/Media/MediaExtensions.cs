using ChatNode.Lifecycle;
using ChatNode.Storage;
using ChatNode.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ChatNode.Media;

public static class MediaExtensions
{
    /// <summary>
    /// Registers media: the grant and check rules (section <c>Media</c>), and, when <c>Media:Store:Endpoint</c> is set,
    /// the S3-compatible blob store and the expiry sweeper. Without a store every media request is refused.
    /// </summary>
    public static IServiceCollection AddMedia(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MediaOptions>().Bind(configuration.GetSection(MediaOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MediaOptions>, MediaOptionsValidator>());
        services.AddOptions<BlobStoreOptions>().Bind(configuration.GetSection(BlobStoreOptions.Section));
        if (configuration[$"{BlobStoreOptions.Section}:{nameof(BlobStoreOptions.Endpoint)}"] is { Length: > 0 })
        {
            services.TryAddSingleton<IBlobStore, MinioBlobStore>();
            services.AddSingleton<ILifecycleParticipant, AttachmentSweeper>();
        }

        services.TryAddSingleton(sp => new MediaService(
            sp.GetRequiredService<IAttachmentStore>(),
            sp.GetRequiredService<IChatStore>(),
            sp.GetRequiredService<IOptions<MediaOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<IBlobStore>()));
        return services;
    }
}
