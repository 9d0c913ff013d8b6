using System.CommandLine;
using Pipeline.Inference.Serving;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;

/// <summary><c>pipeline-infer serve</c>: the scoring server (<see cref="ScoringServer"/>).</summary>
static class ServeCommand
{
    public static Command Create(RuntimeCommandOptions runtime, CommonOptions cli)
    {
        var defaults = new ServerOptions();
        var models = new Option<string[]>("--model", "-m")
        {
            Description = "A model folder to serve, as DIR (named after the folder) or NAME=DIR; repeat for more",
            Required = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true,
        };
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0: every interface)", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port", "-p") { Description = "TCP port", DefaultValueFactory = _ => defaults.Port };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body accepted (larger: 413)", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var bodyTimeout = new Option<double>("--body-timeout") { Description = "Seconds a client may take to send its body (longer: 408)", DefaultValueFactory = _ => defaults.BodyTimeout.TotalSeconds };
        var shutdown = new Option<double>("--shutdown-timeout") { Description = "Seconds requests in flight may take to finish after SIGTERM or Ctrl-C", DefaultValueFactory = _ => defaults.ShutdownTimeout.TotalSeconds };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests computed at once; others wait (0: one per core)", DefaultValueFactory = _ => 0 };
        var command = new Command("serve", """
            Serve models over HTTP (ASP.NET Core): each model is loaded once and shared by all requests.
            --threads is ONNX Runtime's threads per request (0, the default, means 1 here), with --concurrency requests at once.

              POST /v1/models/NAME/score        a WAV body (Content-Type: audio/wav) or JSON {"samples": [...], "sample_rate": N}
                                                → {"score", "anomaly", "threshold", "notes"}; ?frames=true adds the frame errors;
                                                ?machine_id=id_02 names the clip's ID for a model that knows machine IDs
              POST /v1/models/NAME/activations  a .npy V (Content-Type: application/x-npy) → H as .npy (JSON with Accept: application/json)
              GET  /v1/models, /v1/models/NAME  the models and their manifests
              GET  /healthz, /readyz, /metrics  liveness, readiness, Prometheus metrics

            Bad requests get a 4xx with {"error": {"status", "code", "message"}}; one JSON log line per request on standard output.
            SIGTERM or Ctrl-C: stop accepting, finish requests in flight, exit 0.

            Example:
              pipeline-infer serve --model artifacts/models/ae --port 8080
              curl -s -H 'Content-Type: audio/wav' --data-binary @clip.wav http://127.0.0.1:8080/v1/models/ae/score
            """) { models, host, port, maxBody, bodyTimeout, shutdown, concurrency };
        command.SetAction(parse =>
        {
            var named = new Dictionary<string, string>();
            foreach (var spec in parse.GetValue(models)!)
            {
                var at = spec.IndexOf('=');
                var (name, dir) = at > 0 ? (spec[..at], spec[(at + 1)..]) : (Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(spec))), spec);
                if (!named.TryAdd(name, dir)) throw new InvalidOptionException($"two models are named '{name}'; name them with --model NAME=DIR");
            }
            var threads = parse.GetValue(cli.Threads);
            var options = new ServerOptions
            {
                Models = named, Host = parse.GetValue(host)!, Port = parse.GetValue(port), MaxBodyBytes = parse.GetValue(maxBody),
                BodyTimeout = Seconds(parse.GetValue(bodyTimeout), "--body-timeout"), ShutdownTimeout = Seconds(parse.GetValue(shutdown), "--shutdown-timeout"),
                Concurrency = parse.GetValue(concurrency),
                Runtime = runtime.Create(parse) with { IntraOpThreads = threads == 0 ? 1 : threads },
            };
            var server = ScoringServer.Create(options);
            try { server.RunAsync(CommandLineHost.Cancellation).GetAwaiter().GetResult(); }
            finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            return CommandLineHost.Success;
        });
        return command;
    }

    static TimeSpan Seconds(double value, string option) => double.IsFinite(value) && value >= 0 && value < 1e6
        ? TimeSpan.FromSeconds(value) : throw new InvalidOptionException($"{option} must be a number of seconds, got {value}");
}
