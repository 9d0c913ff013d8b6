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
var provider = new Option<ExecutionProvider>("--provider") { Description = "Execution provider: Cpu, or Cuda when this ONNX Runtime has it", Recursive = true, DefaultValueFactory = _ => ExecutionProvider.Cpu };

var model = new Option<string>("--model", "-m") { Description = "Model folder written by pipeline-train", Required = true };
var input = new Option<string>("--input", "-i") { Description = "Input .npy matrix", Required = true };
var output = new Option<string>("--out", "-o") { Description = "Output .npy file", Required = true };
var iterations = new Option<int?>("--iterations") { Description = "Multiplicative updates to run (default: the manifest's)" };
var reconstructionOut = new Option<string?>("--reconstruction-out") { Description = "Also write W·H (features × frames) as .npy" };

SessionOptions Options(ParseResult p) => new() { IntraOpThreads = p.GetValue(cli.Threads), Provider = p.GetValue(provider) };
TextWriter Log(ParseResult p) => cli.Log(p);

var activations = new Command("activations", "Estimate activations H of V against a model's fixed templates.\n\nExample:\n  pipeline-infer activations --model artifacts/models/nmf-demo --input V2.npy --out H2.npy")
{
    model, input, output, iterations, reconstructionOut,
};
activations.SetAction(p =>
{
    var v = NpyFile.Read(p.GetValue(input)!);
    using var estimator = new ActivationEstimator(p.GetValue(model)!, Options(p));
    var result = estimator.Estimate(v, p.GetValue(iterations));
    NpyFile.Write(p.GetValue(output)!, result.Activations);
    if (p.GetValue(reconstructionOut) is { } r) NpyFile.Write(r, result.Reconstruction);
    Log(p).WriteLine($"H {result.Activations.ShapeText} written to {p.GetValue(output)}");
    cli.Summary(p, new Dictionary<string, object?> { ["output"] = p.GetValue(output), ["shape"] = result.Activations.Shape, ["reconstruction"] = p.GetValue(reconstructionOut) });
    return CommandLineHost.Success;
});

var reconstruct = new Command("reconstruct", "Reconstruct W·H from activations H with a model's templates.\n\nExample:\n  pipeline-infer reconstruct --model artifacts/models/nmf-demo --input H2.npy --out V2_hat.npy")
{
    model, input, output,
};
reconstruct.SetAction(p =>
{
    var h = NpyFile.Read(p.GetValue(input)!);
    using var reconstructor = new Reconstructor(p.GetValue(model)!, Options(p));
    var result = reconstructor.Reconstruct(h);
    NpyFile.Write(p.GetValue(output)!, result);
    Log(p).WriteLine($"reconstruction {result.ShapeText} written to {p.GetValue(output)}");
    cli.Summary(p, new Dictionary<string, object?> { ["output"] = p.GetValue(output), ["shape"] = result.Shape });
    return CommandLineHost.Success;
});

var score = ScoreCommand.Create(Options, cli);

var separateInput = new Option<string>("--input", "-i") { Description = "The mixture (audio file)", Required = true };
var separateOut = new Option<string>("--out", "-o") { Description = "Directory for one WAV per source", Required = true };
var separate = new Command("separate", "Split a mixture into its sources with a model from pipeline-train separation.\n\nExample:\n  pipeline-infer separate --model artifacts/models/duet --input mix.wav --out separated/")
{
    model, separateInput, separateOut, iterations,
};
separate.SetAction(p =>
{
    using var separator = new SourceSeparator(p.GetValue(model)!, Options(p));
    var input = p.GetValue(separateInput)!;
    var results = separator.Separate(AudioFile.Read(input, new AudioReadOptions { Mono = false }), input, p.GetValue(iterations));
    var dir = p.GetValue(separateOut)!;
    AtomicFile.WriteDirectory(dir, folder =>
    {
        foreach (var source in results) AudioFile.Write(Path.Combine(folder, source.Name + ".wav"), source.Audio, AudioEncoding.Float32);
    });
    foreach (var source in results) Log(p).WriteLine($"{source.Name}: {Path.Combine(dir, source.Name + ".wav")}");
    cli.Summary(p, new Dictionary<string, object?> { ["sources"] = results.ToDictionary(s => s.Name, s => Path.Combine(dir, s.Name + ".wav")) });
    return CommandLineHost.Success;
});

var info = new Command("info", "Verify a model folder and print its manifest.\n\nExample:\n  pipeline-infer info --model artifacts/models/nmf-demo") { model };
info.SetAction(p =>
{
    using var package = ModelPackage.Open(p.GetValue(model)!, Options(p));
    foreach (var graph in package.Manifest.Graphs) package.Session(graph.Role);
    Console.Out.WriteLine(ModelFolder.ToJson(package.Manifest));
    Log(p).WriteLine($"ONNX Runtime {OrtEnvironment.RuntimeVersion}; providers: {string.Join(", ", OrtEnvironment.AvailableProviders)}");
    return CommandLineHost.Success;
});

var root = new RootCommand("""
    pipeline-infer: run exported Pipeline models with ONNX Runtime; no training code.

    Examples:
      pipeline-infer score --model artifacts/models/ae recordings/
      pipeline-infer activations --model artifacts/models/nmf --input V.npy --out H.npy
      pipeline-infer info --model artifacts/models/ae
      pipeline-infer <command> --help
    """)
{
    activations, reconstruct, score, separate, info, provider,
};
foreach (var option in cli.All) root.Options.Add(option);
OrtEnvironment.Configure(OrtLogLevel.Error);
var parsed = root.Parse(args);
return CommandLineHost.Run(() =>
{
    Pipeline.Shared.Threading.ComputeThreads.Max = parsed.GetValue(cli.Threads);
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}, Console.Error, parsed.GetValue(cli.Verbose));
