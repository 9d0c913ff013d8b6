using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Prometheus;

namespace Pipeline.Inference.Serving;

/// <summary>
/// An HTTP server for exported models on ASP.NET Core's Kestrel. Every model is opened once at start and shared by
/// all requests.
/// <list type="bullet">
/// <item><c>POST /v1/models/{name}/score</c>: a WAV (or other audio) body, or JSON samples → the score, decision and threshold, as <c>pipeline-infer score</c> gives them.</item>
/// <item><c>POST /v1/models/{name}/activations</c>: a <c>.npy</c> V → H as <c>.npy</c> (or JSON with <c>Accept: application/json</c>).</item>
/// <item><c>GET /v1/models</c>, <c>GET /v1/models/{name}</c>: names, kinds and manifests.</item>
/// <item><c>GET /healthz</c> (the process answers), <c>GET /readyz</c> (models loaded, not shutting down), <c>GET /metrics</c> (Prometheus).</item>
/// </list>
/// A client's fault is a 4xx with <c>{"error": {"status", "code", "message"}}</c>; one JSON log line per request.
/// On SIGTERM or Ctrl-C the server stops accepting, answers 503 to new requests on open connections, and finishes
/// those in flight (up to <see cref="ServerOptions.ShutdownTimeout"/>).
/// </summary>
public sealed class ScoringServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly ServerOptions options;
    readonly Dictionary<string, ServedModel> models;
    readonly ServingMetrics metrics = new();
    readonly SemaphoreSlim compute;
    readonly ILogger log;

    ScoringServer(WebApplication app, ServerOptions options, Dictionary<string, ServedModel> models)
    {
        (this.app, this.options, this.models) = (app, options, models);
        compute = new SemaphoreSlim(options.Concurrency > 0 ? options.Concurrency : Environment.ProcessorCount);
        log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Pipeline.Serving");
        Map();
    }

    /// <summary>
    /// Opens every model (all or none: a bad folder stops the start, naming it) and prepares the server; call
    /// <see cref="StartAsync"/> or <see cref="RunAsync"/>.
    /// </summary>
    /// <param name="logging">Where log lines go; JSON lines on standard output by default.</param>
    /// <exception cref="InvalidOptionException">The options are invalid.</exception>
    /// <exception cref="ModelContractException">A model folder is missing, incomplete or altered.</exception>
    public static ScoringServer Create(ServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        options.Validate();
        var models = new Dictionary<string, ServedModel>();
        try
        {
            foreach (var (name, directory) in options.Models) models[name] = ServedModel.Open(name, directory, options.Runtime);
            // the content root is the program's folder, not the working directory (systemd's is /, which ASP.NET
            // would watch for configuration changes), and no configuration file or variable changes the server
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
            if (logging is null)
                builder.Logging.AddJsonConsole(o =>
                {
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.UseUtcTimestamp = true;
                    o.JsonWriterOptions = new JsonWriterOptions { Indented = false };
                });
            else logging(builder.Logging);
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                k.AddServerHeader = false;
                var address = options.Host == "localhost" ? System.Net.IPAddress.Loopback : System.Net.IPAddress.Parse(options.Host);
                k.Listen(address, options.Port);
            });
            return new ScoringServer(builder.Build(), options, models);
        }
        catch
        {
            foreach (var m in models.Values) m.Dispose();
            throw;
        }
    }

    /// <summary>The models served, by name.</summary>
    public IReadOnlyDictionary<string, ServedModel> Models => models;

    /// <summary>The address listened on (after start), e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public string Address => app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
        .Features.Get<IServerAddressesFeature>()!.Addresses.First();

    /// <summary>Starts listening and returns.</summary>
    /// <exception cref="InvalidOptionException">The port is taken or cannot be bound.</exception>
    public async Task StartAsync(CancellationToken cancellation = default)
    {
        try { await app.StartAsync(cancellation); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException || e is IOException && e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException)
        {
            // the socket's refusal (address in use, not this machine's, permission denied below 1024), maybe wrapped by Kestrel
            var reason = (e as System.Net.Sockets.SocketException ?? e.InnerException)!.Message.TrimEnd('.');
            throw new InvalidOptionException($"cannot listen on {options.Host}:{options.Port}: {reason}");
        }
        log.LogInformation("serving {Models} on {Address}", string.Join(", ", models.Values.Select(m => $"{m.Name} ({m.Package.Manifest.Kind}, {m.Provider})")), Address);
    }

    /// <summary>Begins a graceful stop: new requests get 503, requests in flight finish.</summary>
    public Task StopAsync() => app.StopAsync();

    /// <summary>Runs until SIGTERM, Ctrl-C or <paramref name="cancellation"/>, then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellation = default)
    {
        await StartAsync(cancellation);
        await app.WaitForShutdownAsync(cancellation);
        await app.StopAsync(CancellationToken.None);
    }

    void Map()
    {
        var stopping = app.Lifetime.ApplicationStopping;
        app.MapGet("/healthz", () => Results.Json(new { status = "ok" }));
        app.MapGet("/readyz", () => stopping.IsCancellationRequested
            ? Results.Json(new { status = "stopping" }, statusCode: 503)
            : Results.Json(new { status = "ready", models = models.Keys }));
        app.MapMetrics("/metrics", metrics.Registry);
        // ASP0016 mistakes the handlers' inner lambdas (Func<Task<Reply>>, which Handle awaits and writes) for request delegates
#pragma warning disable ASP0016
        app.MapGet("/v1/models", new RequestDelegate(http => Handle(http, "-", "models", () =>
            Task.FromResult(Reply.Json(new { models = models.Values.Select(Describe) })))));
        app.MapGet("/v1/models/{name}", new RequestDelegate(http => Handle(http, Name(http), "model", () =>
            Task.FromResult(Reply.Json(Describe(Model(Name(http))))))));
        app.MapPost("/v1/models/{name}/score", new RequestDelegate(http => Handle(http, Name(http), "score", () => Score(http, Model(Name(http))))));
        app.MapPost("/v1/models/{name}/activations", new RequestDelegate(http => Handle(http, Name(http), "activations", () => Activations(http, Model(Name(http))))));
        app.MapFallback(new RequestDelegate(http => Handle(http, "-", "other", () =>
            throw new ApiException(404, "not_found", $"no endpoint {http.Request.Method} {http.Request.Path}; see GET /v1/models, POST /v1/models/{{name}}/score or /activations"))));
#pragma warning restore ASP0016
    }

    static string Name(HttpContext http) => (string)http.Request.RouteValues["name"]!;

    static object Describe(ServedModel m) => new Dictionary<string, object?>
    {
        ["name"] = m.Name, ["kind"] = m.Package.Manifest.Kind, ["provider"] = m.Provider,
        ["endpoints"] = (m.Scorer is null ? Array.Empty<string>() : ["score"]).Concat(m.Estimator is null ? [] : ["activations"]),
        ["manifest"] = JsonDocument.Parse(ModelFolder.ToJson(m.Package.Manifest)).RootElement,
    };

    ServedModel Model(string name) => models.TryGetValue(name, out var m) ? m
        : throw new ApiException(404, "unknown_model", $"no model '{name}'; this server has {string.Join(", ", models.Keys.Order())}");

    async Task<Reply> Score(HttpContext http, ServedModel model)
    {
        var scorer = model.Scorer ?? throw new ApiException(400, "wrong_endpoint", model.Package.Manifest.Anomaly is not null
            ? $"model '{model.Name}' was fitted on feature matrices, not audio: it scores feature rows (.npy) with pipeline-infer, not recordings"
            : $"model '{model.Name}' is a '{model.Package.Manifest.Kind}' model: it has no anomaly score{(model.Estimator is null ? "" : $" (POST /v1/models/{model.Name}/activations estimates its activations)")}");
        string? machineId = null;
        if (http.Request.Query["machine_id"] is { Count: > 0 } given)
        {
            if (given.Count > 1 && scorer.MachineIdList is not null) throw new ApiException(400, "invalid_option", $"machine_id is given {given.Count} times; a clip has one");
            try { machineId = scorer.ParseMachineId(given[0] ?? "", "machine_id", $"model '{model.Name}'"); }
            catch (PipelineException e) { throw ApiException.From(e); }
        }
        var json = RequestBodies.IsJsonClip(http);
        var body = await RequestBodies.Read(http, options);
        // decoded in the compute slot too: a queue of large JSON bodies holds their bytes, not their arrays
        var result = await Computed(http, () => scorer.Score(RequestBodies.Clip(body, json, options), "request body", machineId));
        var reply = new Dictionary<string, object>
        {
            ["model"] = model.Name, ["score"] = result.Score, ["anomaly"] = result.IsAnomaly, ["threshold"] = scorer.Scoring.Threshold,
            ["notes"] = result.Notes, ["provider"] = scorer.Session.Provider,
        };
        if (http.Request.Query["frames"] is ["true" or "1"]) reply["frame_errors"] = result.FrameErrors;
        return Reply.Json(reply) with { Score = result.Score, Outcome = result.IsAnomaly ? "anomaly" : "normal" };
    }

    async Task<Reply> Activations(HttpContext http, ServedModel model)
    {
        var estimator = model.Estimator ?? throw new ApiException(400, "wrong_endpoint",
            $"model '{model.Name}' is a '{model.Package.Manifest.Kind}' model: it has no activations{(model.Scorer is null ? "" : $" (POST /v1/models/{model.Name}/score scores audio)")}");
        int? iterations = null;
        if (http.Request.Query["iterations"] is [{ } text])
            iterations = int.TryParse(text, out var n) ? n : throw new ApiException(400, "invalid_option", $"iterations must be an integer, got '{text}'");
        RequestBodies.RequireArray(http);
        var body = await RequestBodies.Read(http, options);
        var result = await Computed(http, () => estimator.Estimate(RequestBodies.Array(body), iterations));
        if (http.Request.Headers.Accept.Any(a => a?.Contains("application/json", StringComparison.OrdinalIgnoreCase) == true))
            return Reply.Json(new Dictionary<string, object> { ["model"] = model.Name, ["shape"] = result.Activations.Shape, ["activations"] = result.Activations.Data });
        var npy = new MemoryStream();
        NpyFile.Write(npy, result.Activations);
        return new Reply(200, null, npy.ToArray(), "application/x-npy");
    }

    /// <summary>Runs the model's work when a compute slot is free (one per core by default), mapping the library's refusals to 4xx.</summary>
    async Task<T> Computed<T>(HttpContext http, Func<T> work)
    {
        await compute.WaitAsync(http.RequestAborted);
        try { return work(); }
        catch (PipelineException e) { throw ApiException.From(e); }
        finally { compute.Release(); }
    }

    /// <summary>What a handler answers: JSON or bytes, and for the log the score and outcome.</summary>
    sealed record Reply(int Status, object? Body, byte[]? Bytes = null, string? ContentType = null)
    {
        public double? Score { get; init; }
        public string Outcome { get; init; } = "ok";
        public static Reply Json(object body) => new(200, body);
    }

    /// <summary>One request: 503 once stopping, the handler, errors as JSON, then metrics and one log line.</summary>
    async Task Handle(HttpContext http, string model, string endpoint, Func<Task<Reply>> handler)
    {
        var clock = Stopwatch.StartNew();
        using var _ = metrics.Track();
        Reply reply;
        try
        {
            if (app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                http.Response.Headers.Connection = "close";
                throw new ApiException(503, "shutting_down", "the server is shutting down; retry on another instance");
            }
            reply = await handler();
        }
        catch (ApiException e)
        {
            // a body refused for its size stays unread on the connection, and Kestrel closes it: say so, or a client
            // that pools connections sends its next request into the closed socket
            if (e.Status == StatusCodes.Status413PayloadTooLarge) http.Response.Headers.Connection = "close";
            reply = new Reply(e.Status, new { error = new { status = e.Status, code = e.Code, message = e.Message } }) { Outcome = e.Code };
        }
        catch (Exception e) when (e is ClientGoneException || http.RequestAborted.IsCancellationRequested)
        {
            // nobody to answer: 499 (the status nginx logs for this) in the log and the counts only
            Finish(http, model, endpoint, 499, "client_closed", null, clock);
            return;
        }
        catch (Exception e)
        {
            log.LogError(e, "internal error on {Method} {Path}", http.Request.Method, http.Request.Path);
            reply = new Reply(500, new { error = new { status = 500, code = "internal", message = $"internal error: {e.GetType().Name}: {e.Message}" } }) { Outcome = "internal_error" };
        }
        http.Response.StatusCode = reply.Status;
        try
        {
            // whole, with its length: no chunked encoding for answers of a few kilobytes
            var bytes = reply.Bytes ?? JsonSerializer.SerializeToUtf8Bytes(reply.Body);
            http.Response.ContentType = reply.Bytes is null ? "application/json; charset=utf-8" : reply.ContentType;
            http.Response.ContentLength = bytes.Length;
            await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            Finish(http, model, endpoint, 499, "client_closed", reply.Score, clock);
            return;
        }
        Finish(http, model, endpoint, reply.Status, reply.Outcome, reply.Score, clock);
    }

    void Finish(HttpContext http, string model, string endpoint, int status, string outcome, double? score, Stopwatch clock)
    {
        // the metrics' model label only names served models: an unknown name in a URL does not make a new series
        var label = models.ContainsKey(model) ? model : "-";
        metrics.Observe(label, endpoint, status, clock.Elapsed);
        log.LogInformation("{Method} {Path} {Model} {Endpoint} {Status} {Outcome} {DurationMs} {Score}",
            http.Request.Method, http.Request.Path.Value, label, endpoint, status, outcome, Math.Round(clock.Elapsed.TotalMilliseconds, 2), score);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await app.DisposeAsync();
        foreach (var m in models.Values) m.Dispose();
        compute.Dispose();
    }
}
