using System.CommandLine;
using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Files;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Manifest;

var cli = new CommonOptions();
var runtime = new RuntimeCommandOptions(cli);

var model = new Option<string>("--model", "-m") { Description = "Model folder written by pipeline-train", Required = true };
var input = new Option<string>("--input", "-i") { Description = "Input .npy matrix", Required = true };
var output = new Option<string>("--out", "-o") { Description = "Output .npy file", Required = true };
var iterations = new Option<int?>("--iterations") { Description = "Multiplicative updates to run (default: the manifest's)" };
var reconstructionOut = new Option<string?>("--reconstruction-out") { Description = "Also write W·H (features × frames) as .npy" };

RuntimeOptions Options(ParseResult p) => runtime.Create(p);
TextWriter Log(ParseResult p) => cli.Log(p);

var activations = new Command("activations", "Estimate activations H of V against a model's fixed templates.\n\nExample:\n  pipeline-infer activations --model artifacts/models/nmf-demo --input V2.npy --out H2.npy")
{
    model, input, output, iterations, reconstructionOut,
};
activations.SetAction(p =>
{
    using var outputs = cli.Outputs(p);
    outputs.DeclareInput(p.GetValue(input)!);
    outputs.DeclareInput(p.GetValue(model)!);
    outputs.DeclareFile(p.GetValue(output)!);
    if (p.GetValue(reconstructionOut) is { } reconstructionPath) outputs.DeclareFile(reconstructionPath);
    var v = NpyFile.Read(p.GetValue(input)!);
    using var estimator = new ActivationEstimator(p.GetValue(model)!, Options(p));
    var result = estimator.Estimate(v, p.GetValue(iterations));
    runtime.Report(p, estimator.Session);
    outputs.WriteFile(p.GetValue(output)!, s => NpyFile.Write(s, result.Activations));
    if (p.GetValue(reconstructionOut) is { } r) outputs.WriteFile(r, s => NpyFile.Write(s, result.Reconstruction));
    outputs.Commit();
    Log(p).WriteLine($"H {result.Activations.ShapeText} written to {p.GetValue(output)}");
    cli.Summary(p, new Dictionary<string, object?> { ["output"] = p.GetValue(output), ["shape"] = result.Activations.Shape, ["reconstruction"] = p.GetValue(reconstructionOut), ["provider"] = estimator.Session.Provider });
    return CommandLineHost.Success;
});

var reconstruct = new Command("reconstruct", "Reconstruct W·H from activations H with a model's templates.\n\nExample:\n  pipeline-infer reconstruct --model artifacts/models/nmf-demo --input H2.npy --out V2_hat.npy")
{
    model, input, output,
};
reconstruct.SetAction(p =>
{
    using var outputs = cli.Outputs(p);
    outputs.DeclareInput(p.GetValue(input)!);
    outputs.DeclareInput(p.GetValue(model)!);
    outputs.DeclareFile(p.GetValue(output)!);
    var h = NpyFile.Read(p.GetValue(input)!);
    using var reconstructor = new Reconstructor(p.GetValue(model)!, Options(p));
    var result = reconstructor.Reconstruct(h);
    runtime.Report(p, reconstructor.Session);
    outputs.WriteFile(p.GetValue(output)!, s => NpyFile.Write(s, result));
    outputs.Commit();
    Log(p).WriteLine($"reconstruction {result.ShapeText} written to {p.GetValue(output)}");
    cli.Summary(p, new Dictionary<string, object?> { ["output"] = p.GetValue(output), ["shape"] = result.Shape, ["provider"] = reconstructor.Session.Provider });
    return CommandLineHost.Success;
});

var score = ScoreCommand.Create(runtime, cli);

var separateInput = new Option<string>("--input", "-i") { Description = "The mixture (audio file)", Required = true };
var separateOut = new Option<string>("--out", "-o") { Description = "Directory for one WAV per source", Required = true };
var separate = new Command("separate", "Split a mixture into its sources with a model from pipeline-train separation.\n\nExample:\n  pipeline-infer separate --model artifacts/models/duet --input mix.wav --out separated/")
{
    model, separateInput, separateOut, iterations, cli.Force,
};
separate.SetAction(p =>
{
    var dir = p.GetValue(separateOut)!;
    using var outputs = cli.Outputs(p);
    outputs.DeclareInput(p.GetValue(separateInput)!);
    outputs.DeclareInput(p.GetValue(model)!);
    outputs.DeclareFolder(dir, OutputFolderKind.Sources);
    using var separator = new SourceSeparator(p.GetValue(model)!, Options(p));
    var input = p.GetValue(separateInput)!;
    var results = separator.Separate(AudioFile.Read(input, new AudioReadOptions { Mono = false }), input, p.GetValue(iterations));
    runtime.Report(p, separator.Session);
    outputs.WriteFolder(dir, folder =>
    {
        foreach (var source in results) AudioFile.Write(Path.Combine(folder, source.Name + ".wav"), source.Audio, AudioEncoding.Float32);
        File.WriteAllText(Path.Combine(folder, OutputFolderKind.Sources.Marker), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = Path.GetFullPath(p.GetValue(model)!), ["input"] = Path.GetFullPath(input),
            ["sources"] = results.Select(s => s.Name + ".wav").ToList(),
        }));
    });
    outputs.Commit();
    foreach (var source in results) Log(p).WriteLine($"{source.Name}: {Path.Combine(dir, source.Name + ".wav")}");
    cli.Summary(p, new Dictionary<string, object?> { ["sources"] = results.ToDictionary(s => s.Name, s => Path.Combine(dir, s.Name + ".wav")), ["provider"] = separator.Session.Provider });
    return CommandLineHost.Success;
});

var info = new Command("info", """
    Verify a model folder, load its graphs, and print its manifest and where it runs.
    With --json, one JSON object: the manifest, the ONNX Runtime version and the provider each graph runs on.

    Example:
      pipeline-infer info --model artifacts/models/nmf-demo
    """) { model };
info.SetAction(p =>
{
    using var package = ModelPackage.Open(p.GetValue(model)!, Options(p));
    var sessions = package.Manifest.Graphs.ToDictionary(g => g.Role, g => package.Session(g.Role));
    var providers = sessions.ToDictionary(s => s.Key, s => s.Value.Provider);
    var cudaUnavailable = sessions.Values.Select(s => s.CudaUnavailable).FirstOrDefault(w => w is not null);
    if (p.GetValue(cli.Json))
    {
        cli.Summary(p, new Dictionary<string, object?>
        {
            ["manifest"] = System.Text.Json.JsonDocument.Parse(ModelFolder.ToJson(package.Manifest)).RootElement,
            ["onnxruntime"] = OnnxRuntimeEnvironment.Version, ["available_providers"] = OnnxRuntimeEnvironment.AvailableProviders,
            ["providers"] = providers, ["cuda_unavailable"] = cudaUnavailable,
        });
        return CommandLineHost.Success;
    }
    Console.Out.WriteLine(ModelFolder.ToJson(package.Manifest));
    Console.Out.WriteLine($"ONNX Runtime {OnnxRuntimeEnvironment.Version} (providers: {string.Join(", ", OnnxRuntimeEnvironment.AvailableProviders)})");
    foreach (var (role, provider) in providers) Console.Out.WriteLine($"  {role}: {provider}");
    if (cudaUnavailable is not null) Console.Out.WriteLine($"  CUDA not used: {cudaUnavailable}");
    return CommandLineHost.Success;
});

var root = new RootCommand("""
    pipeline-infer: run exported Pipeline models with ONNX Runtime; no training code.

    Examples:
      pipeline-infer score --model artifacts/models/ae recordings/
      pipeline-infer activations --model artifacts/models/nmf --input V.npy --out H.npy
      pipeline-infer info --model artifacts/models/ae
      pipeline-infer serve --model artifacts/models/ae --port 8080
      pipeline-infer <command> --help
    """)
{
    activations, reconstruct, score, separate, info, ServeCommand.Create(runtime, cli), StreamCommand.Create(runtime, cli),
};
foreach (var option in cli.All.Concat(runtime.All)) root.Options.Add(option);
var parsed = root.Parse(args);
if (CommonOptions.RefuseParseErrors(parsed, Console.Error) is { } refused) return refused;
return CommandLineHost.Run(() =>
{
    Pipeline.Shared.Threading.ComputeThreads.Max = parsed.GetValue(cli.Threads);
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}, Console.Error, parsed.GetValue(cli.Verbose));
