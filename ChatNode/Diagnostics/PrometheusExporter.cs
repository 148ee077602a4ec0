using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace ChatNode.Diagnostics;

/// <summary>
/// Serves the node's <see cref="System.Diagnostics.Metrics"/> instruments in the Prometheus text format (0.0.4):
/// counters as <c>_total</c>, up-down counters and gauges as gauges, histograms with fixed buckets in seconds or
/// bytes. Names: dots become underscores, the unit becomes a suffix (<c>chat.delivery.duration</c> in s becomes
/// <c>chat_delivery_duration_seconds</c>). Listens to the meters named in the constructor. Thread-safe.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] SecondBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();
    private readonly HashSet<string> _meters;

    public PrometheusExporter(IEnumerable<string> meterNames)
    {
        _meters = [.. meterNames];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meters.Contains(instrument.Meter.Name))
            {
                _families[instrument] = new Family(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>The current values in the Prometheus text format.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder(4096);
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            family.Write(text);
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_families.TryGetValue(instrument, out var family))
        {
            family.Record(value, tags);
        }
    }

    private enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class Family
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly Kind _kind;
        private readonly string _help;
        private readonly bool _setsValue;

        public Family(Instrument instrument)
        {
            var type = instrument.GetType().GetGenericTypeDefinition();
            (_kind, _setsValue) = type.Name switch
            {
                "Counter`1" => (Kind.Counter, false),
                "ObservableCounter`1" => (Kind.Counter, true),
                "Histogram`1" => (Kind.Histogram, false),
                "UpDownCounter`1" => (Kind.Gauge, false),
                _ => (Kind.Gauge, true),
            };
            var unit = instrument.Unit switch
            {
                "s" => "_seconds",
                "By" => "_bytes",
                _ => "",
            };
            var baseName = instrument.Name.Replace('.', '_').Replace('-', '_');
            Name = baseName.EndsWith(unit, StringComparison.Ordinal) ? baseName : baseName + unit;
            _help = (instrument.Description ?? instrument.Name).Replace('\n', ' ');
            Buckets = instrument.Unit == "s" ? SecondBuckets : [];
        }

        public string Name { get; }

        private double[] Buckets { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(Labels(tags), static (_, buckets) => new Series(buckets.Length), Buckets);
            lock (series)
            {
                if (_kind == Kind.Histogram)
                {
                    series.Count++;
                    series.Value += value;
                    for (var i = 0; i < Buckets.Length; i++)
                    {
                        if (value <= Buckets[i])
                        {
                            series.BucketCounts[i]++;
                        }
                    }
                }
                else if (_setsValue)
                {
                    series.Value = value;
                }
                else
                {
                    series.Value += value;
                }
            }
        }

        public void Write(StringBuilder text)
        {
            var typeName = _kind switch
            {
                Kind.Counter => "counter",
                Kind.Histogram => "histogram",
                _ => "gauge",
            };
            var name = _kind == Kind.Counter ? Name + "_total" : Name;
            text.Append("# HELP ").Append(name).Append(' ').Append(_help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(typeName).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                lock (series)
                {
                    if (_kind != Kind.Histogram)
                    {
                        Sample(text, name, labels, series.Value);
                        continue;
                    }

                    for (var i = 0; i < Buckets.Length; i++)
                    {
                        Sample(text, name + "_bucket", Join(labels, "le=\"" + Number(Buckets[i]) + "\""), series.BucketCounts[i]);
                    }

                    Sample(text, name + "_bucket", Join(labels, "le=\"+Inf\""), series.Count);
                    Sample(text, name + "_sum", labels, series.Value);
                    Sample(text, name + "_count", labels, series.Count);
                }
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, double value)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').Append(Number(value)).Append('\n');
        }

        private static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }

            var text = new StringBuilder();
            foreach (var (key, value) in tags)
            {
                if (text.Length > 0)
                {
                    text.Append(',');
                }

                var escaped = Convert.ToString(value, CultureInfo.InvariantCulture)?.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) ?? "";
                text.Append(key.Replace('.', '_')).Append("=\"").Append(escaped).Append('"');
            }

            return text.ToString();
        }
    }

    private sealed class Series(int buckets)
    {
        public double Value { get; set; }

        public long Count { get; set; }

        public long[] BucketCounts { get; } = new long[buckets];
    }
}
