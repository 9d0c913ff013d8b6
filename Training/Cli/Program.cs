using System.CommandLine;
using System.Diagnostics;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Threading;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

var cli = new CommonOptions();
var device = TrainingDevice.Create();

var input = new Option<string>("--input", "-i") { Description = "V as a .npy matrix (features × frames), non-negative", Required = true };
var rank = new Option<int>("--rank", "-k") { Description = "Number of components K", DefaultValueFactory = _ => DecompositionOptions.DefaultRank };
var beta = new Option<double>("--beta") { Description = "β of the divergence: 2 Euclidean, 1 Kullback-Leibler, 0 Itakura-Saito", DefaultValueFactory = _ => 1 };
var tol = new Option<double>("--tol") { Description = "Stop when the loss falls by less than this fraction of the initial loss between checks (0: never)", DefaultValueFactory = _ => 1e-4 };
var maxIter = new Option<int>("--max-iter") { Description = "Maximum multiplicative-update iterations", DefaultValueFactory = _ => 200 };
var l1 = new Option<double>("--l1") { Description = "L1 penalty on W and H (torchnmf's l1_reg)", DefaultValueFactory = _ => 0 };
var l2 = new Option<double>("--l2") { Description = "L2 penalty on W and H (torchnmf's l2_reg)", DefaultValueFactory = _ => 0 };
var seed = new Option<int>("--seed") { Description = "Seed of the random initialisation", DefaultValueFactory = _ => 0 };
var iterations = new Option<int>("--iterations") { Description = "Updates the exported activation graph runs by default", DefaultValueFactory = _ => 200 };
var output = new Option<string>("--out", "-o") { Description = "Model folder to write (model.onnx, reconstruction.onnx, manifest.json)", Required = true };
var name = new Option<string?>("--name") { Description = "Model name recorded in the manifest (default: the folder's name)" };
var wOut = new Option<string?>("--w-out") { Description = "Also write W (features × K) as .npy" };
var hOut = new Option<string?>("--h-out") { Description = "Also write H (K × frames) as .npy" };

var nmf = new Command("nmf", "Fit V ≈ W·H by β-divergence multiplicative updates and export the model.\n\nExample:\n  pipeline-train nmf --input V.npy --rank 20 --beta 1 --out artifacts/models/nmf-demo")
{
    input, rank, beta, tol, maxIter, l1, l2, seed, iterations, output, name, wOut, hOut, cli.Force,
};
nmf.SetAction(parse =>
{
    var where = Pipeline.Training.Engine.TorchDevice.Resolve(parse.GetValue(device)); // a missing CUDA is refused before any work
    var log = cli.Log(parse);
    var outDir = parse.GetValue(output)!;
    using var outputs = cli.Outputs(parse);
    outputs.DeclareInput(parse.GetValue(input)!);
    outputs.DeclareFolder(outDir, ModelFolder.Kind);
    if (parse.GetValue(wOut) is { } wPath) outputs.DeclareFile(wPath);
    if (parse.GetValue(hOut) is { } hPath) outputs.DeclareFile(hPath);
    var path = parse.GetValue(input)!;
    var v = NpyFile.Read(path);
    var options = new NmfFitOptions
    {
        Beta = parse.GetValue(beta), Tolerance = parse.GetValue(tol), MaxIterations = parse.GetValue(maxIter),
        Alpha = parse.GetValue(l1) + parse.GetValue(l2), L1Ratio = NmfFitOptions.L1RatioOf(parse.GetValue(l1), parse.GetValue(l2)),
    };
    var exportIterations = parse.GetValue(iterations);
    if (exportIterations < 0) throw new InvalidOptionException($"--iterations must be ≥ 0, got {exportIterations}");
    var model = new Nmf(parse.GetValue(rank), parse.GetValue(seed), where);
    log.WriteLine($"fitting NMF: V {v.ShapeText}, rank {model.Rank}, β = {options.Beta}, up to {options.MaxIterations} iterations on {Pipeline.Training.Engine.TorchDevice.Describe(where)}");
    var clock = Stopwatch.StartNew();
    NmfFitResult result;
    using (var bar = new ProgressBar(log, options.MaxIterations, "nmf"))
        result = model.Fit(v, options, new SynchronousProgress<NmfProgress>(p => bar.Update(p.Iteration, $"loss {p.Loss:G6}")));
    log.WriteLine($"{(result.Converged ? "converged" : "stopped")} after {result.Iterations} iterations in {clock.Elapsed.TotalSeconds:F2} s, loss {result.InitialLoss:G6} → {result.FinalLoss:G6}");

    var summary = new TrainingSummary(model.Seed, result.Iterations, options.MaxIterations, options.Tolerance, result.Converged,
        result.FinalLoss, v.Shape, Path.GetFileName(path));
    var modelName = parse.GetValue(name) ?? Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/'));
    outputs.WriteFolder(outDir, folder => NmfExport.Export(model, folder, modelName, options.Beta, exportIterations, summary));
    if (parse.GetValue(wOut) is { } w) outputs.WriteFile(w, s => NpyFile.Write(s, model.W!));
    if (parse.GetValue(hOut) is { } h) outputs.WriteFile(h, s => NpyFile.Write(s, model.H!));
    outputs.Commit();
    log.WriteLine($"wrote {Path.Combine(outDir, ModelFolder.ManifestFileName)}");
    cli.Summary(parse, new Dictionary<string, object?>
    {
        ["model"] = outDir, ["rank"] = model.Rank, ["beta"] = options.Beta, ["iterations"] = result.Iterations, ["converged"] = result.Converged,
        ["initial_loss"] = result.InitialLoss, ["final_loss"] = result.FinalLoss, ["seconds"] = clock.Elapsed.TotalSeconds,
    });
    return CommandLineHost.Success;
});

var root = new RootCommand("""
    pipeline-train: fit audio-spectrogram models (on the CPU, or a GPU with TorchSharp's CUDA package) and export them as ONNX graphs with a manifest.

    Examples:
      pipeline-train synth machine --out artifacts/data/machine --seed 1
      pipeline-train anomaly --data artifacts/data/machine --out artifacts/models/ae
      pipeline-train decompose --model nmfd --input song.wav --rank 8 --out artifacts/models/song
      pipeline-train <command> --help
    """)
{
    nmf, DecomposeCommand.Create(cli, device), SeparationCommand.Create(cli, device), FeaturesCommand.Create(cli), AnomalyCommands.Synth(cli),
    AnomalyCommands.Train(cli, device), MixtureCommand.Create(cli, device), VaeCommand.Create(cli, device),
};
foreach (var option in cli.All) root.Options.Add(option);
// the training commands take --device; synth and features, which train nothing, do not
foreach (var command in root.Subcommands.Where(c => c.Name is not ("synth" or "features"))) command.Options.Add(device);
var parsed = root.Parse(args);
if (CommonOptions.RefuseParseErrors(parsed, Console.Error) is { } refused) return refused;
return CommandLineHost.Run(() =>
{
    var threads = parsed.GetValue(cli.Threads);
    Pipeline.Training.Engine.TorchDevice.Configure(threads); // checks the value first
    // Ctrl-C is ours (CommandLineHost.Cancellation), so that work stops at a step boundary and writes nothing
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}, Console.Error, parsed.GetValue(cli.Verbose));
