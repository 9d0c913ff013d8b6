using System.CommandLine;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using Pipeline.Training.Export;
using Pipeline.Training.Plots;
using static TorchSharp.torch;

/// <summary><c>pipeline-train decompose</c>: any decomposition model on audio or a matrix, with the loss curve and V/W/H/WH heat maps.</summary>
static class DecomposeCommand
{
    public static Command Create(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var model = new Option<string>("--model", "-m") { Description = "nmf, nmfd, nmf2d, nmf3d, plca, siplca, siplca2 or siplca3", DefaultValueFactory = _ => "nmf" };
        var input = new Option<string>("--input", "-i") { Description = "An audio file (its magnitude STFT) or a non-negative .npy: a matrix (features × frames), or a 3-d array for nmf3d / siplca3", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for the model, W/H .npy files and pictures", Required = true };
        var rank = new Option<int>("--rank", "-k") { Description = "Components", DefaultValueFactory = _ => 8 };
        var window = new Option<int>("--window") { Description = "nmfd / siplca: the convolution window in frames", DefaultValueFactory = _ => 8 };
        var kernel = new Option<string>("--kernel") { Description = "nmf2d / siplca2: ROWSxCOLUMNS (bins × frames), such as 3x8; nmf3d / siplca3: AxBxC", DefaultValueFactory = _ => "3x8" };
        var beta = new Option<double>("--beta") { Description = "β of the divergence", DefaultValueFactory = _ => 1 };
        var trainer = new Option<string>("--trainer") { Description = "mu (β multiplicative updates), sparse (Hoyer-projected gradient, with --sparseness-w/-h) or, for nmf, logadam (Adam on ln W, ln H)", DefaultValueFactory = _ => "mu" };
        var l1 = new Option<double>("--l1") { Description = "mu: L1 penalty on every factor", DefaultValueFactory = _ => 0 };
        var l2 = new Option<double>("--l2") { Description = "mu: L2 penalty on every factor", DefaultValueFactory = _ => 0 };
        var orthogonal = new Option<double>("--orthogonal") { Description = "mu (deconvolution models): penalty on the overlap of components", DefaultValueFactory = _ => 0 };
        var sparsenessW = new Option<double?>("--sparseness-w") { Description = "sparse: Hoyer sparseness of each template, in (0, 1)" };
        var sparsenessH = new Option<double?>("--sparseness-h") { Description = "sparse: Hoyer sparseness of each activation, in (0, 1)" };
        var normalize = new Option<string>("--normalize") { Description = "none, w or h: rescale each component of that factor to unit L2 norm after every iteration", DefaultValueFactory = _ => "none" };
        var iterations = new Option<int>("--max-iter") { Description = "Training iterations", DefaultValueFactory = _ => 200 };
        var exportIterations = new Option<int>("--iterations") { Description = "Updates the exported activation graph runs by default", DefaultValueFactory = _ => 100 };
        var sampleRate = new Option<int>("--sample-rate") { Description = "Audio: analysis rate. With --n-fft and --hop-length, also puts a .npy spectrogram's pictures in Hz and s", DefaultValueFactory = _ => 22050 };
        var nFft = new Option<int>("--n-fft") { Description = "Audio: FFT size", DefaultValueFactory = _ => 2048 };
        var hop = new Option<int>("--hop-length") { Description = "Audio: samples between frames", DefaultValueFactory = _ => 512 };
        var seconds = new Option<double?>("--duration") { Description = "Audio: seconds to read (e.g. the first 30)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the initialisation", DefaultValueFactory = _ => 0 };
        var command = new Command("decompose", """
            Decompose a magnitude spectrogram (or any non-negative matrix) with one of the decomposition models and
            write the exported model, W, H, the reconstruction and its pictures: the loss curve and V, W, H, WH in
            dB (−60 dB floor).

            Examples:
              pipeline-train decompose --model nmf --trainer logadam --input song.wav --duration 30 --rank 20 --max-iter 500 --out artifacts/models/song
              pipeline-train decompose --model nmfd --input song.wav --rank 8 --window 16 --beta 1 --out artifacts/models/song-nmfd
              pipeline-train decompose --model nmf2d --trainer sparse --sparseness-h 0.8 --kernel 3x8 --input song.wav --out artifacts/models/song-2d
              pipeline-train decompose --model siplca3 --kernel 2x3x4 --input volume.npy --out artifacts/models/volume
            """) { model, input, output, rank, window, kernel, beta, trainer, l1, l2, orthogonal, sparsenessW, sparsenessH, normalize, iterations, exportIterations, sampleRate, nFft, hop, seconds, seed, cli.Force };
        command.SetAction(parse =>
        {
            var log = cli.Log(parse);
            var source = parse.GetValue(input)!;
            NdArray v;
            if (source.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) v = NpyFile.Read(source);
            else
            {
                var clip = AudioFile.Read(source, new AudioReadOptions { SampleRate = parse.GetValue(sampleRate), Duration = parse.GetValue(seconds) });
                v = new Stft(parse.GetValue(nFft), parse.GetValue(hop)).Magnitude(clip.Samples, 1f, source);
                // |STFT| scaled to mean 1, so learning rates and losses do not depend on the recording's level
                var mean = v.Data.Average(x => (double)x);
                for (var i = 0; i < v.Data.Length; i++) v.Data[i] = (float)(v.Data[i] / Math.Max(mean, 1e-12));
            }
            var kind = parse.GetValue(model)!;
            var volumetric = kind is "nmf3d" or "siplca3";
            if (volumetric != (v.Rank == 3))
                throw new InvalidInputException(volumetric ? $"{kind} needs a 3-d .npy array, got shape {v.ShapeText}" : $"{kind} needs a matrix (features × frames), got shape {v.ShapeText}");
            if (volumetric) v.RequireNonNegativeFinite("V");
            else v.RequireDecompositionInput("V", "features", parse.GetValue(beta));
            // a 3-d V is shown and saved with its first axis as rows
            var (f, t) = volumetric ? (v.Shape[0], v.Shape[1] * v.Shape[2]) : (v.Rows, v.Columns);
            var (k, b, steps) = (parse.GetValue(rank), parse.GetValue(beta), parse.GetValue(iterations));
            var normalization = parse.GetValue(normalize) switch
            {
                "none" => FactorNormalization.None,
                "w" => FactorNormalization.W,
                "h" => FactorNormalization.H,
                var other => throw new InvalidOptionException($"--normalize takes none, w or h, not '{other}'"),
            };
            var trainerName = parse.GetValue(trainer)!;
            if (trainerName is not ("mu" or "sparse" or "logadam")) throw new InvalidOptionException($"--trainer takes mu, sparse or logadam, not '{trainerName}'");
            if (trainerName == "logadam" && kind != "nmf") throw new InvalidOptionException("--trainer logadam fits plain NMF only (--model nmf)");
            var where = parse.GetValue(device);
            var torchDevice = TorchDevice.Resolve(where); // a missing CUDA is refused before any work
            if (kind == "nmf" && trainerName == "mu") TrainingDevice.RequireCpu(where, "--model nmf --trainer mu", "the other models and trainers run on CUDA, or ");
            if (trainerName == "sparse" && kind.Contains("plca")) throw new InvalidOptionException("PLCA models are fitted by EM; --trainer sparse applies to nmf, nmfd, nmf2d and nmf3d");
            var outDir = parse.GetValue(output)!; // created only once a model is fitted: a refused run leaves nothing
            using var outputs = cli.Outputs(parse);
            outputs.DeclareInput(source);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            Action<string> export;
            var history = new List<double>();
            using var bar = new ProgressBar(log, steps, kind);
            void Record(double loss) { history.Add(loss); bar.Update(history.Count, $"loss {loss:G5}"); }
            NdArray w, h, wh;
            var name = Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/'));
            using var g = new Generator((ulong)parse.GetValue(seed));
            using var data = TorchArrays.FromNdArray(v, torchDevice);
            switch (kind)
            {
                case "nmf" when trainerName == "logadam":
                {
                    var result = LogAdam.Fit(v, new LogAdamOptions { Rank = k, Steps = steps, Seed = parse.GetValue(seed), Loss = b == 2 ? LogAdamLoss.SquaredError : LogAdamLoss.IDivergence, Device = where },
                        new SynchronousProgress<(int, double)>(p => Record(p.Item2)), CommandLineHost.Cancellation);
                    (w, h) = (result.W, result.H);
                    var nmf = Nmf.FromTemplates(w);
                    export = folder => NmfExport.Export(nmf, folder, name, b, parse.GetValue(exportIterations));
                    wh = Multiply(w, h);
                    break;
                }
                case "nmf" when trainerName == "mu":
                {
                    var nmf = new Nmf(k, parse.GetValue(seed));
                    var (penaltyL1, penaltyL2) = (parse.GetValue(l1), parse.GetValue(l2));
                    nmf.Fit(v, new NmfFitOptions
                    {
                        Beta = b, MaxIterations = steps, Tolerance = 0, LossEvery = 1, Normalize = normalization,
                        Alpha = penaltyL1 + penaltyL2, L1Ratio = penaltyL1 + penaltyL2 > 0 ? penaltyL1 / (penaltyL1 + penaltyL2) : 0,
                    }, new SynchronousProgress<NmfProgress>(p => { if (p.Iteration > 0) Record(p.Loss); }));
                    export = folder => NmfExport.Export(nmf, folder, name, b, parse.GetValue(exportIterations));
                    (w, h) = (nmf.W!, nmf.H!);
                    wh = Multiply(w, h);
                    break;
                }
                case "nmf" or "nmfd" or "nmf2d" or "nmf3d":
                {
                    // plain NMF here only with the sparse trainer: torchnmf's NMF module, V (N, C) = Vᵀ
                    NonNegativeComponent component = kind switch
                    {
                        "nmf" => new NmfComponent([t, f], k, g, device: torchDevice),
                        "nmfd" => new Nmfd([1, f, t], k, parse.GetValue(window), g, device: torchDevice),
                        "nmf2d" => new Nmf2d([1, 1, f, t], k, Kernel2(parse.GetValue(kernel)!), g, device: torchDevice),
                        _ => new Nmf3d([1, 1, .. v.Shape], k, Kernel3(parse.GetValue(kernel)!), g, device: torchDevice),
                    };
                    using var target = kind == "nmf" ? data.t() : data.reshape(component.forward().shape);
                    if (trainerName == "sparse")
                    {
                        var (sw, sh) = (parse.GetValue(sparsenessW), parse.GetValue(sparsenessH));
                        if (sw is null && sh is null) throw new InvalidOptionException("--trainer sparse needs --sparseness-w and/or --sparseness-h");
                        component.SparseFit(target, b, steps, sw, sh, new SynchronousProgress<(int, double)>(p => Record(p.Item2)), CommandLineHost.Cancellation);
                    }
                    else
                    {
                        BetaMu.CheckTarget(target, b);
                        using var mu = new BetaMu(component.parameters(), b, parse.GetValue(l1), parse.GetValue(l2), parse.GetValue(orthogonal));
                        for (var i = 0; i < steps; i++)
                        {
                            CommandLineHost.Cancellation.ThrowIfCancellationRequested();
                            using (var loss = mu.step(() => (component.forward(), target))) Record(loss.item<double>());
                            component.NormalizeComponents(normalization);
                        }
                    }
                    w = Flatten(component.W);
                    var templates = w;
                    if (component is DeconvolutionComponent deconvolution) export = folder => DeconvolutionExport.Export(deconvolution, folder, name, b, parse.GetValue(exportIterations));
                    else export = folder => NmfExport.Export(Nmf.FromTemplates(templates), folder, name, b, parse.GetValue(exportIterations));
                    h = kind == "nmf" ? TorchArrays.ToNdArray(component.H.t()) : Flatten(component.H.reshape(k, -1));
                    using (no_grad()) wh = TorchArrays.ToNdArray(kind == "nmf" ? component.forward().t() : component.forward().reshape(f, t));
                    break;
                }
                case "plca" or "siplca" or "siplca2" or "siplca3":
                {
                    PlcaComponent component = kind switch
                    {
                        "plca" => new Plca([t, f], k, g, torchDevice),
                        "siplca" => new Siplca([1, f, t], k, [parse.GetValue(window)], g, torchDevice),
                        "siplca2" => new Siplca2([1, 1, f, t], k, Kernel2(parse.GetValue(kernel)!), g, torchDevice),
                        _ => new Siplca3([1, 1, .. v.Shape], k, Kernel3(parse.GetValue(kernel)!), g, torchDevice),
                    };
                    using var target = kind == "plca" ? data.t() : data.reshape(component.forward().shape);
                    var result = component.Fit(target, tolerance: 0, maxIterations: steps, progress: new SynchronousProgress<(int, double)>(p => Record(-p.Item2)),
                        cancellation: CommandLineHost.Cancellation);
                    using var reconstruction = component.Reconstruction(result.Mass);
                    wh = TorchArrays.ToNdArray(kind == "plca" ? reconstruction.t() : reconstruction.reshape(f, t));
                    w = Flatten(component.W);
                    h = kind == "plca" ? TorchArrays.ToNdArray(component.H.t()) : Flatten(component.H.reshape(k, -1));
                    export = folder => PlcaExport.Export(component, folder, name, parse.GetValue(exportIterations));
                    break;
                }
                default:
                    throw new InvalidOptionException($"--model must be nmf, nmfd, nmf2d, nmf3d, plca, siplca, siplca2 or siplca3, not '{kind}'");
            }
            bar.Dispose();
            outputs.WriteFolder(outDir, folder =>
            {
                export(folder);
                NpyFile.Write(Path.Combine(folder, "W.npy"), w);
                NpyFile.Write(Path.Combine(folder, "H.npy"), h);
                NpyFile.Write(Path.Combine(folder, "WH.npy"), wh);
                var shown = volumetric ? new NdArray([f, t], v.Data) : v;
                var (rows, columns) = PictureAxes(parse, source, kind, f, sampleRate, nFft, hop, log);
                var planar = kind is "nmf" or "nmfd" or "plca" or "siplca"; // H's columns are V's frames, W's columns components (and lags)
                foreach (var warning in DecompositionFigures.Write(Path.Combine(folder, "evaluation"), shown, w, h, wh, history,
                    kind.Contains("plca") ? "negative log-likelihood" : $"β-divergence (β = {b})", rows, columns,
                    kind is "nmf" or "plca" ? "component" : "component · kernel position", planar ? columns : HeatMapAxis.Index("activation position"),
                    planar ? rows : HeatMapAxis.Index("template row"), w.Columns > k && w.Columns % k == 0 ? w.Columns / k : null))
                    log.WriteLine($"warning: {warning}");
            });
            outputs.Commit();
            log.WriteLine($"{kind}: V {v.ShapeText}, rank {k}, loss {history.FirstOrDefault():G5} → {history.LastOrDefault():G5}; wrote {outDir}");
            cli.Summary(parse, new Dictionary<string, object?>
            {
                ["model"] = outDir, ["kind"] = kind, ["trainer"] = trainerName, ["rank"] = k, ["v_shape"] = v.Shape, ["w_shape"] = w.Shape, ["h_shape"] = h.Shape,
                ["initial_loss"] = history.FirstOrDefault(), ["final_loss"] = history.LastOrDefault(), ["iterations"] = history.Count,
                ["pictures_seconds"] = Figure.TimeSpent.TotalSeconds,
            });
            return CommandLineHost.Success;
        });
        return command;
    }

    /// <summary>
    /// V's row and column axes for the pictures: Hz and seconds for audio, and for a .npy V when --sample-rate,
    /// --n-fft and --hop-length are all given (an STFT made elsewhere) and its rows are n_fft/2 + 1 bins; features
    /// and frames otherwise (with a warning when the rows do not fit the n_fft given).
    /// </summary>
    static (HeatMapAxis Rows, HeatMapAxis Columns) PictureAxes(ParseResult parse, string source, string kind, int rows,
        Option<int> sampleRate, Option<int> nFft, Option<int> hop, TextWriter log)
    {
        if (kind is "nmf3d" or "siplca3") return (HeatMapAxis.Index("axis 0"), HeatMapAxis.Index("axes 1 × 2"));
        var audio = !source.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);
        var given = new Option[] { sampleRate, nFft, hop }.Count(o => parse.GetResult(o) is { Implicit: false });
        var described = given == 3;
        if (!audio && given is 1 or 2)
            log.WriteLine("warning: the pictures of a .npy V are drawn in Hz and s only with all of --sample-rate, --n-fft and --hop-length; they are drawn in features and frames");
        if (described && !audio && rows != parse.GetValue(nFft) / 2 + 1)
        {
            log.WriteLine($"warning: V has {rows} rows, not the {parse.GetValue(nFft) / 2 + 1} bins of --n-fft {parse.GetValue(nFft)}; its pictures are drawn in features and frames");
            described = false;
        }
        return audio || described
            ? (HeatMapAxis.Hertz(parse.GetValue(sampleRate), parse.GetValue(nFft)), HeatMapAxis.Seconds(parse.GetValue(hop), parse.GetValue(sampleRate)))
            : (HeatMapAxis.Index("feature"), HeatMapAxis.Index("frame"));
    }

    static (int, int) Kernel2(string text) => Kernel(text, 2) is [var a, var b] ? (a, b) : default;

    static (int, int, int) Kernel3(string text) => Kernel(text, 3) is [var a, var b, var c] ? (a, b, c) : default;

    static int[] Kernel(string text, int rank)
    {
        var parts = text.Split('x');
        var sizes = parts.Select(p => int.TryParse(p, out var n) && n > 0 ? n : -1).ToArray();
        if (parts.Length != rank || sizes.Any(n => n < 1))
            throw new InvalidOptionException($"--kernel takes {rank} positive sizes joined by 'x' ({(rank == 2 ? "3x8" : "2x3x4")}), not '{text}'");
        return sizes;
    }

    static NdArray Multiply(NdArray w, NdArray h)
    {
        var result = new float[w.Rows * h.Columns];
        Pipeline.Training.Linalg.Blas.MatMul(w.Data, h.Data, result, w.Rows, w.Columns, h.Columns);
        return new NdArray([w.Rows, h.Columns], result);
    }

    /// <summary>A tensor as a matrix: first axis kept as rows, the rest flattened into columns.</summary>
    static NdArray Flatten(Tensor t) => TorchArrays.ToNdArray(t.reshape(t.shape[0], -1));
}
