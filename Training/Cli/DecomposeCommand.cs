using System.CommandLine;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;
using Pipeline.Training.Plots;
using Pipeline.Training.Tensors;

/// <summary><c>pipeline-train decompose</c>: any decomposition model on audio or a matrix, with seed 000's pictures.</summary>
static class DecomposeCommand
{
    public static Command Create(Option<bool> quiet)
    {
        var model = new Option<string>("--model", "-m") { Description = "nmf, nmfd, nmf2d, plca or siplca", DefaultValueFactory = _ => "nmf" };
        var input = new Option<string>("--input", "-i") { Description = "An audio file (its magnitude STFT) or a non-negative .npy matrix (features × frames)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for the model, W/H .npy files and pictures", Required = true };
        var rank = new Option<int>("--rank", "-k") { Description = "Components", DefaultValueFactory = _ => 8 };
        var window = new Option<int>("--window") { Description = "nmfd / siplca: the convolution window in frames", DefaultValueFactory = _ => 8 };
        var kernel = new Option<string>("--kernel") { Description = "nmf2d: kernel as ROWSxCOLUMNS (bins × frames)", DefaultValueFactory = _ => "3x8" };
        var beta = new Option<double>("--beta") { Description = "β of the divergence", DefaultValueFactory = _ => 1 };
        var trainer = new Option<string>("--trainer") { Description = "nmf: mu (multiplicative updates) or logadam (Adam on ln W, ln H)", DefaultValueFactory = _ => "mu" };
        var iterations = new Option<int>("--iterations") { Description = "Training iterations", DefaultValueFactory = _ => 200 };
        var exportIterations = new Option<int>("--export-iterations") { Description = "Updates the exported activation graph runs by default", DefaultValueFactory = _ => 100 };
        var sampleRate = new Option<int>("--sample-rate") { Description = "Audio: analysis rate", DefaultValueFactory = _ => 22050 };
        var nFft = new Option<int>("--n-fft") { Description = "Audio: FFT size", DefaultValueFactory = _ => 2048 };
        var hop = new Option<int>("--hop-length") { Description = "Audio: samples between frames", DefaultValueFactory = _ => 512 };
        var seconds = new Option<double?>("--duration") { Description = "Audio: seconds to read (seed 000 uses the first 30)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the initialisation", DefaultValueFactory = _ => 0 };
        var command = new Command("decompose", """
            Decompose a magnitude spectrogram (or any non-negative matrix) with one of the decomposition models and
            write the exported model, W, H, the reconstruction and seed 000's pictures: the loss curve and V, W, H, WH in
            dB (−60 dB floor).

            Examples:
              pipeline-train decompose --model nmf --trainer logadam --input song.wav --duration 30 --rank 20 --out artifacts/models/song
              pipeline-train decompose --model nmfd --input song.wav --rank 8 --window 16 --beta 1 --out artifacts/models/song-nmfd
            """) { model, input, output, rank, window, kernel, beta, trainer, iterations, exportIterations, sampleRate, nFft, hop, seconds, seed };
        command.SetAction(parse =>
        {
            var log = parse.GetValue(quiet) ? TextWriter.Null : Console.Error;
            var source = parse.GetValue(input)!;
            NdArray v;
            if (source.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) v = NpyFile.Read(source);
            else
            {
                var clip = AudioFile.Read(source, new AudioReadOptions { SampleRate = parse.GetValue(sampleRate), Duration = parse.GetValue(seconds) });
                v = new Stft(parse.GetValue(nFft), parse.GetValue(hop)).Magnitude(clip.Samples, 1f, source);
                // seed 000: |STFT| scaled to mean 1, so learning rates and losses do not depend on the recording's level
                var mean = v.Data.Average(x => (double)x);
                for (var i = 0; i < v.Data.Length; i++) v.Data[i] = (float)(v.Data[i] / Math.Max(mean, 1e-12));
            }
            v.RequireDecompositionInput("V", "features", parse.GetValue(beta));
            var (f, t, k, b, steps) = (v.Rows, v.Columns, parse.GetValue(rank), parse.GetValue(beta), parse.GetValue(iterations));
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var history = new List<double>();
            NdArray w, h, wh;
            var name = Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/'));
            var g = new Generator(parse.GetValue(seed));
            var data = Tensor.From(v);
            switch (parse.GetValue(model))
            {
                case "nmf" when parse.GetValue(trainer) == "logadam":
                {
                    var result = LogAdam.Fit(v, new LogAdamOptions { Rank = k, Steps = steps, Seed = parse.GetValue(seed), Loss = b == 2 ? LogAdamLoss.SquaredError : LogAdamLoss.IDivergence },
                        new SynchronousProgress<(int, double)>(p => history.Add(p.Item2)));
                    (w, h) = (result.W, result.H);
                    var nmf = Nmf.FromTemplates(w);
                    NmfExport.Export(nmf, outDir, name, b, parse.GetValue(exportIterations));
                    wh = Multiply(w, h);
                    break;
                }
                case "nmf":
                {
                    var nmf = new Nmf(k, parse.GetValue(seed));
                    nmf.Fit(v, new NmfFitOptions { Beta = b, MaxIterations = steps, Tolerance = 0 }, new SynchronousProgress<NmfProgress>(p => history.Add(p.Loss)));
                    NmfExport.Export(nmf, outDir, name, b, parse.GetValue(exportIterations));
                    (w, h) = (nmf.W!, nmf.H!);
                    wh = Multiply(w, h);
                    break;
                }
                case "nmfd" or "nmf2d":
                {
                    DeconvolutionComponent component;
                    Tensor target;
                    if (parse.GetValue(model) == "nmfd")
                    {
                        target = data.Reshape(1, f, t);
                        component = new Nmfd([1, f, t], k, parse.GetValue(window), g);
                    }
                    else
                    {
                        var parts = parse.GetValue(kernel)!.Split('x');
                        if (parts.Length != 2 || !int.TryParse(parts[0], out var kr) || !int.TryParse(parts[1], out var kc))
                            throw new InvalidOptionException($"--kernel takes ROWSxCOLUMNS such as 3x8, not '{parse.GetValue(kernel)}'");
                        target = data.Reshape(1, 1, f, t);
                        component = new Nmf2d([1, 1, f, t], k, (kr, kc), g);
                    }
                    var mu = new BetaMu(component.Parameters(), b);
                    for (var i = 0; i < steps; i++) history.Add(mu.Step(target, component.Forward));
                    DeconvolutionExport.Export(component, outDir, name, b, parse.GetValue(exportIterations));
                    w = Flatten(component.W);
                    h = Flatten(component.H.Detach().Reshape(k, -1));
                    using (Tensor.NoGrad()) wh = component.Forward().Reshape(f, t).ToNdArray();
                    break;
                }
                case "plca" or "siplca":
                {
                    PlcaComponent component = parse.GetValue(model) == "plca" ? new Plca([t, f], k, g) : new Siplca([1, f, t], k, [parse.GetValue(window)], g);
                    var target = parse.GetValue(model) == "plca" ? data.T() : data.Reshape(1, f, t);
                    var result = component.Fit(target, tolerance: 0, maxIterations: steps);
                    history.AddRange(result.LogLikelihood.Select(x => -x));
                    var reconstruction = component.Reconstruction(result.Mass);
                    wh = (parse.GetValue(model) == "plca" ? reconstruction.T() : reconstruction.Reshape(f, t)).ToNdArray();
                    w = Flatten(component.W);
                    h = parse.GetValue(model) == "plca" ? component.H.Detach().T().ToNdArray() : Flatten(component.H.Detach().Reshape(k, -1));
                    PlcaExport.Export(component, outDir, name, parse.GetValue(exportIterations));
                    break;
                }
                default:
                    throw new InvalidOptionException($"--model must be nmf, nmfd, nmf2d, plca or siplca, not '{parse.GetValue(model)}'");
            }
            NpyFile.Write(Path.Combine(outDir, "W.npy"), w);
            NpyFile.Write(Path.Combine(outDir, "H.npy"), h);
            NpyFile.Write(Path.Combine(outDir, "WH.npy"), wh);
            var pictures = Path.Combine(outDir, "evaluation");
            Directory.CreateDirectory(pictures);
            foreach (var (file, matrix) in new[] { ("V.png", v), ("W.png", w), ("H.png", h), ("WH.png", wh) })
                HeatMap.Render(matrix).Save(Path.Combine(pictures, file));
            new SvgChart("Loss per iteration", "iteration", parse.GetValue(model) is "plca" or "siplca" ? "negative log-likelihood" : $"β-divergence (β = {b})")
                .Line(parse.GetValue(model)!, history.Select((l, i) => ((double)i + 1, l)).ToList()).Save(Path.Combine(pictures, "loss.svg"));
            log.WriteLine($"{parse.GetValue(model)}: V {v.ShapeText}, rank {k}, loss {history.FirstOrDefault():G5} → {history.LastOrDefault():G5}; wrote {outDir}");
            return CommandLineHost.Success;
        });
        return command;
    }

    static NdArray Multiply(NdArray w, NdArray h)
    {
        var result = new float[w.Rows * h.Columns];
        Pipeline.Training.Linalg.Blas.MatMul(w.Data, h.Data, result, w.Rows, w.Columns, h.Columns);
        return new NdArray([w.Rows, h.Columns], result);
    }

    /// <summary>A tensor as a matrix: first axis kept as rows, the rest flattened into columns.</summary>
    static NdArray Flatten(Tensor t)
    {
        var detached = t.Detach();
        return new NdArray([detached.Size(0), detached.Count / Math.Max(detached.Size(0), 1)], detached.ToArray());
    }
}
