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
        private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();
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
            // The key is built from the tags without allocating; the label text only once per new series.
            if (!_series.TryGetValue(SeriesKey.From(tags), out var series))
            {
                series = _series.GetOrAdd(SeriesKey.From(tags), new Series(Buckets.Length, Labels(tags)));
            }

            // Lock-free: measurements come from every request; a scrape may see a histogram mid-update, which
            // Prometheus tolerates (the next scrape is consistent again).
            if (_kind == Kind.Histogram)
            {
                Interlocked.Increment(ref series.Count);
                series.Add(value);
                for (var i = 0; i < Buckets.Length; i++)
                {
                    if (value <= Buckets[i])
                    {
                        Interlocked.Increment(ref series.BucketCounts[i]);
                        break;
                    }
                }
            }
            else if (_setsValue)
            {
                Volatile.Write(ref series.Value, value);
            }
            else
            {
                series.Add(value);
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
            foreach (var series in _series.Values.OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                var labels = series.Labels;
                if (_kind != Kind.Histogram)
                {
                    Sample(text, name, labels, Volatile.Read(ref series.Value));
                    continue;
                }

                // Buckets are stored non-cumulatively (one increment per measurement) and summed here.
                long cumulative = 0;
                for (var i = 0; i < Buckets.Length; i++)
                {
                    cumulative += Interlocked.Read(ref series.BucketCounts[i]);
                    Sample(text, name + "_bucket", Join(labels, "le=\"" + Number(Buckets[i]) + "\""), cumulative);
                }

                var count = Interlocked.Read(ref series.Count);
                Sample(text, name + "_bucket", Join(labels, "le=\"+Inf\""), count);
                Sample(text, name + "_sum", labels, Volatile.Read(ref series.Value));
                Sample(text, name + "_count", labels, count);
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

        internal static string LabelsOf(ReadOnlySpan<KeyValuePair<string, object?>> tags) => Labels(tags);

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

    /// <summary>Up to three tags as a value key; more tags fall back to their label text.</summary>
    private readonly record struct SeriesKey(object? K1, object? V1, object? K2, object? V2, object? K3, object? V3)
    {
        public static SeriesKey From(ReadOnlySpan<KeyValuePair<string, object?>> tags) => tags.Length switch
        {
            0 => default,
            1 => new(tags[0].Key, tags[0].Value, null, null, null, null),
            2 => new(tags[0].Key, tags[0].Value, tags[1].Key, tags[1].Value, null, null),
            3 => new(tags[0].Key, tags[0].Value, tags[1].Key, tags[1].Value, tags[2].Key, tags[2].Value),
            _ => new(Family.LabelsOf(tags), null, null, null, null, null),
        };
    }

    private sealed class Series(int buckets, string labels)
    {
        public string Labels { get; } = labels;

        // Fields, not properties: updated with Interlocked.
#pragma warning disable SA1401, CA1051
        public double Value;
        public long Count;
        public readonly long[] BucketCounts = new long[buckets];
#pragma warning restore SA1401, CA1051

        public void Add(double amount)
        {
            double current, updated;
            do
            {
                current = Volatile.Read(ref Value);
                updated = current + amount;
            }
            while (Interlocked.CompareExchange(ref Value, updated, current) != current);
        }
    }
}
