using Pipeline.Inference.Runtime;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Serving;

/// <summary>
/// What <see cref="ScoringServer"/> serves and its limits. The defaults suit one machine behind a reverse proxy:
/// loopback only, 32 MiB bodies (about 17 minutes of 16-bit audio at 16 kHz), 30 s to receive a body.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>Model name (the URL's <c>{name}</c>) → exported model folder.</summary>
    public IReadOnlyDictionary<string, string> Models { get; init; } = new Dictionary<string, string>();

    /// <summary>The address to listen on: loopback by default; <c>0.0.0.0</c> (or <c>::</c>) for every interface.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 takes a free one (see <see cref="ScoringServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>The largest request body accepted, in bytes (larger: 413).</summary>
    public long MaxBodyBytes { get; init; } = 32L << 20;

    /// <summary>How long a client may take to send its body (longer: 408).</summary>
    public TimeSpan BodyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>On SIGTERM or Ctrl-C, how long requests in flight may take to finish before the server stops.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests computed at once (others wait their turn); 0: one per core.</summary>
    public int Concurrency { get; init; }

    /// <summary>Sample rates a request may carry (the audio is resampled to the model's).</summary>
    public int MinSampleRate { get; init; } = 4000;

    /// <inheritdoc cref="MinSampleRate"/>
    public int MaxSampleRate { get; init; } = 384_000;

    /// <summary>ONNX Runtime sessions: device, threads per request.</summary>
    public RuntimeOptions Runtime { get; init; } = new() { IntraOpThreads = 1 };

    /// <summary>Every problem at once.</summary>
    /// <exception cref="InvalidOptionException">A value is out of range, or no model is named.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (Models.Count == 0) problems.Add("no model to serve: give at least one --model");
        foreach (var name in Models.Keys)
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                problems.Add($"model name '{name}' must be letters, digits, '-', '_' or '.' (it is part of a URL); name it with --model NAME=DIR");
        if (Port is < 0 or > 65535) problems.Add($"port must lie in [0, 65535], got {Port}");
        if (MaxBodyBytes < 1024) problems.Add($"the body limit must be at least 1024 bytes, got {MaxBodyBytes}");
        if (BodyTimeout <= TimeSpan.Zero) problems.Add($"the body timeout must be positive, got {BodyTimeout.TotalSeconds} s");
        if (ShutdownTimeout < TimeSpan.Zero) problems.Add($"the shutdown timeout must be ≥ 0, got {ShutdownTimeout.TotalSeconds} s");
        if (Concurrency < 0) problems.Add($"concurrency must be ≥ 0, got {Concurrency}");
        if (MinSampleRate < 1 || MaxSampleRate < MinSampleRate) problems.Add($"the sample-rate range [{MinSampleRate}, {MaxSampleRate}] is empty");
        if (!System.Net.IPAddress.TryParse(Host, out _) && Host != "localhost") problems.Add($"host must be an IP address or localhost, got '{Host}'");
        if (problems.Count > 0) throw new InvalidOptionException(string.Join("; ", problems));
        Runtime.Validate();
    }
}
