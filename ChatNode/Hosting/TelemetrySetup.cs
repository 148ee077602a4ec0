using ChatNode.Diagnostics;
using ChatNode.Fleet;
using ChatNode.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ChatNode.Hosting;

/// <summary>
/// OpenTelemetry for the node: the meters (<c>ChatNode</c>, <c>ChatNode.Storage</c>, the runtime's) exported for a
/// Prometheus scrape at <c>/metrics</c> and, when <see cref="TelemetryOptions.OtlpEndpoint"/> is set, over OTLP; spans
/// of <see cref="Telemetry.Source"/> sampled at <see cref="TelemetryOptions.TraceSampleRatio"/> (parent-based, so a
/// forwarded push follows its send) when that ratio is above 0.
/// </summary>
internal static class TelemetrySetup
{
    private static readonly double[] SecondBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] CountBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    public static IServiceCollection AddChatNodeTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>());
        var options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var nodeId = configuration[$"{FleetOptions.Section}:{nameof(FleetOptions.NodeId)}"] is { Length: > 0 } id ? id : FleetOptionsDefaults.DefaultNodeId();
        var otlp = Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out var endpoint) ? endpoint : null;

        var telemetry = services.AddOpenTelemetry().ConfigureResource(r => r.AddService("chatnode", serviceInstanceId: nodeId));
        telemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter(Telemetry.MeterName, StorageMetrics.MeterName, "System.Runtime")
                .AddView(instrument => instrument switch
                {
                    { Unit: "s" } and System.Diagnostics.Metrics.Histogram<double> => new ExplicitBucketHistogramConfiguration { Boundaries = SecondBuckets },
                    System.Diagnostics.Metrics.Histogram<long> => new ExplicitBucketHistogramConfiguration { Boundaries = CountBuckets },
                    _ => null,
                })
                .AddPrometheusExporter();
            if (otlp is not null)
            {
                metrics.AddOtlpExporter(o => o.Endpoint = otlp);
            }
        });

        if (options.TraceSampleRatio > 0)
        {
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource(Telemetry.SourceName).SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(options.TraceSampleRatio)));
                if (otlp is not null)
                {
                    tracing.AddOtlpExporter(o => o.Endpoint = otlp);
                }
            });
        }

        return services;
    }
}
