using System.CommandLine;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Plots;

/// <summary><c>pipeline-train decompose</c>: any decomposition model on audio or a matrix, with the loss curve and V/W/H/WH heat maps.</summary>
static class DecomposeCommand
{
    public static Command Create(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var model = new Option<string>("--model", "-m") { Description = "nmf, nmfd, nmf2d, nmf3d, plca, siplca, siplca2 or siplca3", DefaultValueFactory = _ => "nmf" };
        var input = new Option<string>("--input", "-i") { Description = "An audio file (its magnitude STFT) or a non-negative .npy: a matrix (features × frames), or a 3-d array for nmf3d / siplca3", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for the model, W/H .npy files and pictures", Required = true };
        var rank = new Option<int>("--rank", "-k") { Description = "Components", DefaultValueFactory = _ => DecompositionOptions.DefaultRank };
        var window = new Option<int>("--window") { Description = "nmfd / siplca: the convolution window in frames", DefaultValueFactory = _ => 8 };
        var kernel = new Option<string>("--kernel") { Description = "nmf2d / siplca2: ROWSxCOLUMNS (bins × frames), such as 3x8; nmf3d / siplca3: AxBxC", DefaultValueFactory = _ => "3x8" };
        var beta = new Option<double>("--beta") { Description = "β of the divergence", DefaultValueFactory = _ => 1 };
        var trainer = new Option<string>("--trainer") { Description = "mu (β multiplicative updates), sparse (Hoyer-projected gradient, with --sparseness-w/-h) or, for nmf, logadam (Adam on ln W, ln H)", DefaultValueFactory = _ => "mu" };
        var l1 = new Option<double>("--l1") { Description = "mu: L1 penalty on every factor", DefaultValueFactory = _ => 0 };
        var l2 = new Option<double>("--l2") { Description = "mu: L2 penalty on every factor", DefaultValueFactory = _ => 0 };
        var orthogonal = new Option<double>("--orthogonal") { Description = "mu: penalty on the overlap of components", DefaultValueFactory = _ => 0 };
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
                v = DecompositionJob.Spectrogram(clip, parse.GetValue(nFft), parse.GetValue(hop), source);
            }
            var kind = parse.GetValue(model)!;
            var options = new DecompositionOptions
            {
                Model = kind, Trainer = parse.GetValue(trainer)!, Rank = parse.GetValue(rank), Window = parse.GetValue(window),
                Kernel = DecompositionModels.IsVolumetric(kind) ? Kernel(parse.GetValue(kernel)!, 3) : kind is "nmf2d" or "siplca2" ? Kernel(parse.GetValue(kernel)!, 2) : [],
                Beta = parse.GetValue(beta), L1 = parse.GetValue(l1), L2 = parse.GetValue(l2), Orthogonal = parse.GetValue(orthogonal),
                SparsenessW = parse.GetValue(sparsenessW), SparsenessH = parse.GetValue(sparsenessH),
                Normalize = parse.GetValue(normalize) switch
                {
                    "none" => FactorNormalization.None,
                    "w" => FactorNormalization.W,
                    "h" => FactorNormalization.H,
                    var other => throw new InvalidOptionException($"--normalize takes none, w or h, not '{other}'"),
                },
                MaxIterations = parse.GetValue(iterations), ExportIterations = parse.GetValue(exportIterations), Seed = parse.GetValue(seed), Device = parse.GetValue(device),
            };
            var outDir = parse.GetValue(output)!; // created only once a model is fitted: a refused run leaves nothing
            using var outputs = cli.Outputs(parse);
            outputs.DeclareInput(source);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            var name = Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/'));
            var bar = new ProgressBar(log, options.MaxIterations, kind);
            DecompositionResult result;
            using (bar)
                result = DecompositionJob.Fit(v, options, new SynchronousProgress<(int, double)>(p => bar.Update(p.Item1, $"loss {p.Item2:G5}")), CommandLineHost.Cancellation);
            var (w, h, history, k) = (result.W, result.H, result.History, options.Rank);
            var (rows, columns) = PictureAxes(parse, source, kind, v.Shape[0], sampleRate, nFft, hop, log);
            outputs.WriteFolder(outDir, folder =>
            {
                foreach (var warning in result.WriteFolder(folder, name, v, rows, columns)) log.WriteLine($"warning: {warning}");
            });
            outputs.Commit();
            log.WriteLine($"{kind}: V {v.ShapeText}, rank {k}, loss {history.FirstOrDefault():G5} → {history.LastOrDefault():G5}; wrote {outDir}");
            cli.Summary(parse, new Dictionary<string, object?>
            {
                ["model"] = outDir, ["kind"] = kind, ["trainer"] = options.Trainer, ["rank"] = k, ["v_shape"] = v.Shape, ["w_shape"] = w.Shape, ["h_shape"] = h.Shape,
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

    static long[] Kernel(string text, int rank)
    {
        var parts = text.Split('x');
        var sizes = parts.Select(p => long.TryParse(p, out var n) && n > 0 ? n : -1).ToArray();
        if (parts.Length != rank || sizes.Any(n => n < 1))
            throw new InvalidOptionException($"--kernel takes {rank} positive sizes joined by 'x' ({(rank == 2 ? "3x8" : "2x3x4")}), not '{text}'");
        return sizes;
    }
}
