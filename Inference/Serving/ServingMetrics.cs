using Prometheus;

namespace Pipeline.Inference.Serving;

/// <summary>
/// The server's Prometheus metrics (prometheus-net, one registry per server): requests by model, endpoint and status,
/// latency histograms, requests in flight, and the process's memory and CPU from prometheus-net's .NET collectors.
/// </summary>
sealed class ServingMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    readonly Counter requests;
    readonly Histogram duration;
    readonly Gauge inFlight;

    public ServingMetrics()
    {
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        requests = factory.CreateCounter("pipeline_requests_total", "Requests answered, by model, endpoint and HTTP status.",
            new CounterConfiguration { LabelNames = ["model", "endpoint", "status"] });
        // 1 ms to about 16 s: a frame score takes well under a millisecond, a long clip seconds
        duration = factory.CreateHistogram("pipeline_request_duration_seconds", "Time from a request's arrival to its response, by model and endpoint.",
            new HistogramConfiguration { LabelNames = ["model", "endpoint"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 15) });
        inFlight = factory.CreateGauge("pipeline_requests_in_flight", "Requests being read or computed.");
    }

    public IDisposable Track() => inFlight.TrackInProgress();

    public void Observe(string model, string endpoint, int status, TimeSpan elapsed)
    {
        requests.WithLabels(model, endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        duration.WithLabels(model, endpoint).Observe(elapsed.TotalSeconds);
    }
}
