using Microsoft.Extensions.Options;

namespace ChatNode.Diagnostics;

/// <summary>Metrics and trace export (configuration section <c>Telemetry</c>). Prometheus scrapes <c>/metrics</c> whatever these say.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>
    /// The share of sends traced, 0 to 1; a push received from another node is traced when its send was. 0 (the
    /// default) turns tracing off: no span is created.
    /// </summary>
    public double TraceSampleRatio { get; set; }

    /// <summary>An OTLP collector (gRPC), e.g. <c>http://otel-collector:4317</c>: traces and metrics are pushed there. Empty: no OTLP export.</summary>
    public string OtlpEndpoint { get; set; } = "";
}

internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions o)
    {
        var failures = new List<string>();
        if (o.TraceSampleRatio is < 0 or > 1 or double.NaN)
        {
            failures.Add("Telemetry:TraceSampleRatio must be between 0 and 1.");
        }

        if (o.OtlpEndpoint.Length > 0 && !Uri.TryCreate(o.OtlpEndpoint, UriKind.Absolute, out _))
        {
            failures.Add("Telemetry:OtlpEndpoint must be an absolute URL such as http://otel-collector:4317.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
