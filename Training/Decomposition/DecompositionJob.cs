using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using Pipeline.Training.Export;
using Pipeline.Training.Plots;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>The model families <see cref="DecompositionJob"/> fits, by their torchnmf names.</summary>
public static class DecompositionModels
{
    /// <summary>Every model name, in the order help lists them.</summary>
    public static readonly IReadOnlyList<string> Names = ["nmf", "nmfd", "nmf2d", "nmf3d", "plca", "siplca", "siplca2", "siplca3"];

    /// <summary>Whether the model takes a 3-d V (the others take a matrix, features × frames).</summary>
    public static bool IsVolumetric(string model) => model is "nmf3d" or "siplca3";

    /// <summary>Whether the model is fitted by EM (the PLCA family) rather than by a β-divergence trainer.</summary>
    public static bool IsProbabilistic(string model) => model.Contains("plca");
}

/// <summary>How <see cref="DecompositionJob.Fit"/> trains: torchnmf's models and trainers, and log-domain Adam for plain NMF.</summary>
public sealed record DecompositionOptions
{
    /// <summary>One of <see cref="DecompositionModels.Names"/>.</summary>
    public string Model { get; init; } = "nmf";
    /// <summary>mu (β multiplicative updates), sparse (Hoyer-projected gradient) or, for nmf, logadam.</summary>
    public string Trainer { get; init; } = "mu";
    /// <summary>The components every decomposition command fits unless told otherwise.</summary>
    public const int DefaultRank = 8;

    public int Rank { get; init; } = DefaultRank;
    /// <summary>NMFD / SIPLCA: the convolution window in frames.</summary>
    public int Window { get; init; } = 8;
    /// <summary>NMF2D / SIPLCA2: two sizes; NMF3D / SIPLCA3: three.</summary>
    public long[] Kernel { get; init; } = [3, 8];
    public double Beta { get; init; } = 1;
    /// <summary>mu: penalties on every factor (torchnmf's l1_reg, l2_reg, orthogonal).</summary>
    public double L1 { get; init; }
    public double L2 { get; init; }
    public double Orthogonal { get; init; }
    /// <summary>sparse: Hoyer sparseness of each template and each activation, in (0, 1).</summary>
    public double? SparsenessW { get; init; }
    public double? SparsenessH { get; init; }
    public FactorNormalization Normalize { get; init; } = FactorNormalization.None;
    public int MaxIterations { get; init; } = 200;
    /// <summary>Updates the exported activation graph runs by default.</summary>
    public int ExportIterations { get; init; } = 100;
    public int Seed { get; init; }
    public Inference.Runtime.Device Device { get; init; } = Inference.Runtime.Device.Auto;

    /// <exception cref="InvalidOptionException">A name or a combination is not one the job knows.</exception>
    internal void Validate()
    {
        if (!DecompositionModels.Names.Contains(Model))
            throw new InvalidOptionException($"--model must be {string.Join(", ", DecompositionModels.Names.SkipLast(1))} or {DecompositionModels.Names[^1]}, not '{Model}'");
        if (Trainer is not ("mu" or "sparse" or "logadam")) throw new InvalidOptionException($"--trainer takes mu, sparse or logadam, not '{Trainer}'");
        if (Trainer == "logadam" && Model != "nmf") throw new InvalidOptionException("--trainer logadam fits plain NMF only (--model nmf)");
        if (Trainer == "logadam" && Beta is not (1 or 2))
            throw new InvalidOptionException($"--trainer logadam fits the squared error (--beta 2) or the I-divergence (--beta 1), not β = {Beta}; use --trainer mu for other β");
        var penalised = L1 != 0 || L2 != 0 || Orthogonal != 0;
        if (penalised && (Trainer != "mu" || DecompositionModels.IsProbabilistic(Model)))
            throw new InvalidOptionException($"--l1, --l2 and --orthogonal apply to the multiplicative updates of nmf, nmfd, nmf2d and nmf3d (--trainer mu), not to {(DecompositionModels.IsProbabilistic(Model) ? $"{Model}'s EM" : $"--trainer {Trainer}")}");
        if (Trainer == "sparse" && DecompositionModels.IsProbabilistic(Model))
            throw new InvalidOptionException("PLCA models are fitted by EM; --trainer sparse applies to nmf, nmfd, nmf2d and nmf3d");
        if (Trainer == "sparse" && SparsenessW is null && SparsenessH is null) throw new InvalidOptionException("--trainer sparse needs --sparseness-w and/or --sparseness-h");
    }
}

/// <summary>
/// What a decomposition fitted, as matrices: W with its first axis as rows (the rest flattened), H likewise, V's
/// reconstruction in V's matrix shape, the loss after every iteration, and the writer of the exported model.
/// </summary>
public sealed record DecompositionResult(string Model, int Rank, NdArray W, NdArray H, NdArray Reconstruction, IReadOnlyList<double> History,
    string LossName, Func<string, string, Shared.Manifest.ModelManifest> Export)
{
    /// <summary>
    /// Writes the model folder's contents into <paramref name="folder"/>: the exported graphs and manifest (named
    /// <paramref name="name"/>), W.npy, H.npy, WH.npy, and under evaluation/ the loss curve and V, W, H and WH in dB,
    /// V drawn on <paramref name="rows"/> × <paramref name="columns"/> (a 3-d V with its first axis as rows).
    /// Returns the pictures' warnings.
    /// </summary>
    public IReadOnlyList<string> WriteFolder(string folder, string name, NdArray v, HeatMapAxis rows, HeatMapAxis columns)
    {
        Export(folder, name);
        NpyFile.Write(Path.Combine(folder, "W.npy"), W);
        NpyFile.Write(Path.Combine(folder, "H.npy"), H);
        NpyFile.Write(Path.Combine(folder, "WH.npy"), Reconstruction);
        var shown = v.Rank == 3 ? new NdArray([v.Shape[0], v.Shape[1] * v.Shape[2]], v.Data) : v;
        var planar = Model is "nmf" or "nmfd" or "plca" or "siplca"; // H's columns are V's frames, W's columns components (and lags)
        return DecompositionFigures.Write(Path.Combine(folder, "evaluation"), shown, W, H, Reconstruction, History, LossName, rows, columns,
            Model is "nmf" or "plca" ? "component" : "component · kernel position", planar ? columns : HeatMapAxis.Index("activation position"),
            planar ? rows : HeatMapAxis.Index("template row"), W.Columns > Rank && W.Columns % Rank == 0 ? W.Columns / Rank : null);
    }
}

/// <summary>
/// Fits one decomposition model to V, the work behind <c>pipeline-train decompose</c>: V is a matrix (features × frames),
/// or a 3-d array for nmf3d and siplca3, taken as torchnmf's V with a batch axis of one.
/// </summary>
public static class DecompositionJob
{
    /// <summary>Fits V; <paramref name="progress"/> sees (iteration, loss) after every iteration.</summary>
    /// <exception cref="InvalidOptionException">An option is out of range, or CUDA was asked for where the model runs on the CPU.</exception>
    /// <exception cref="InvalidInputException">V has the wrong rank, or negative or non-finite values (zeros with β ≤ 0).</exception>
    public static DecompositionResult Fit(NdArray v, DecompositionOptions options, IProgress<(int Iteration, double Loss)>? progress = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        var (kind, k, b, steps) = (options.Model, options.Rank, options.Beta, options.MaxIterations);
        var volumetric = DecompositionModels.IsVolumetric(kind);
        if (volumetric != (v.Rank == 3))
            throw new InvalidInputException(volumetric ? $"{kind} needs a 3-d .npy array, got shape {v.ShapeText}" : $"{kind} needs a matrix (features × frames), got shape {v.ShapeText}");
        if (volumetric) v.RequireNonNegativeFinite("V");
        else v.RequireDecompositionInput("V", "features", b);
        var device = TorchDevice.Resolve(options.Device); // a missing CUDA is refused before any work
        // a 3-d V is shown and saved with its first axis as rows
        var (f, t) = volumetric ? (v.Shape[0], v.Shape[1] * v.Shape[2]) : (v.Rows, v.Columns);
        var history = new List<double>();
        void Record(double loss)
        {
            history.Add(loss);
            progress?.Report((history.Count, loss));
        }
        var lossName = DecompositionModels.IsProbabilistic(kind) ? "negative log-likelihood" : $"β-divergence (β = {b})";
        if (kind == "nmf" && options.Trainer == "logadam")
        {
            var result = LogAdam.Fit(v, new LogAdamOptions { Rank = k, Steps = steps, Seed = options.Seed, Loss = b == 2 ? LogAdamLoss.SquaredError : LogAdamLoss.IDivergence, Device = options.Device },
                new Shared.Threading.SynchronousProgress<(int, double)>(p => Record(p.Item2)), cancellation);
            var nmf = Nmf.FromTemplates(result.W);
            return new(kind, k, result.W, result.H, Nmf.Product(result.W, result.H), history, lossName, (folder, name) => NmfExport.Export(nmf, folder, name, b, options.ExportIterations));
        }
        if (kind == "nmf" && options.Trainer == "mu")
        {
            var nmf = new Nmf(k, options.Seed, device);
            nmf.Fit(v, new NmfFitOptions
            {
                Beta = b, MaxIterations = steps, Tolerance = 0, LossEvery = 1, Normalize = options.Normalize,
                Alpha = options.L1 + options.L2, L1Ratio = NmfFitOptions.L1RatioOf(options.L1, options.L2), Orthogonal = options.Orthogonal,
            }, new Shared.Threading.SynchronousProgress<NmfProgress>(p => { if (p.Iteration > 0) Record(p.Loss); }), cancellation);
            return new(kind, k, nmf.W!, nmf.H!, nmf.Reconstruct(), history, lossName, (folder, name) => NmfExport.Export(nmf, folder, name, b, options.ExportIterations));
        }
        // the model outlives this call (the exporter reads it), so no dispose scope: the steps have their own
        using var generator = new Generator((ulong)options.Seed);
        using var data = TorchArrays.FromNdArray(v, device);
        long[] kernel = volumetric || kind is "nmf2d" or "siplca2" ? options.Kernel : [options.Window];
        // torchnmf's V: samples first for NMF and PLCA (Vᵀ), else a batch of one with V's axes behind the channels
        long[] shape = kind switch
        {
            "nmf" or "plca" => [t, f],
            "nmfd" or "siplca" => [1, f, t],
            "nmf2d" or "siplca2" => [1, 1, f, t],
            _ => [1, 1, .. v.Shape],
        };
        var target = kind is "nmf" or "plca" ? data.t() : data.reshape(shape);
        if (DecompositionModels.IsProbabilistic(kind))
        {
            PlcaComponent component = kind switch
            {
                "plca" => new Plca(shape, k, generator, device),
                "siplca" => new Siplca(shape, k, kernel, generator, device),
                "siplca2" => new Siplca2(shape, k, (kernel[0], kernel[1]), generator, device),
                _ => new Siplca3(shape, k, (kernel[0], kernel[1], kernel[2]), generator, device),
            };
            var fit = component.Fit(target, tolerance: 0, maxIterations: steps,
                progress: new Shared.Threading.SynchronousProgress<(int, double)>(p => Record(-p.Item2)), cancellation: cancellation);
            var reconstruction = component.Reconstruction(fit.Mass);
            return new(kind, k, Flatten(component.W), kind == "plca" ? TorchArrays.ToNdArray(component.H.t()) : Flatten(component.H.reshape(k, -1)),
                TorchArrays.ToNdArray(kind == "plca" ? reconstruction.t() : reconstruction.reshape(f, t)), history, lossName,
                (folder, name) => PlcaExport.Export(component, folder, name, options.ExportIterations));
        }
        // plain NMF here with the sparse trainer: torchnmf's NMF module, V (N, C) = Vᵀ
        NonNegativeComponent model = kind switch
        {
            "nmf" => new NmfComponent(shape, k, generator, device: device),
            "nmfd" => new Nmfd(shape, k, options.Window, generator, device: device),
            "nmf2d" => new Nmf2d(shape, k, (kernel[0], kernel[1]), generator, device: device),
            _ => new Nmf3d(shape, k, (kernel[0], kernel[1], kernel[2]), generator, device: device),
        };
        if (options.Trainer == "sparse")
            model.SparseFit(target, b, steps, options.SparsenessW, options.SparsenessH, new Shared.Threading.SynchronousProgress<(int, double)>(p => Record(p.Item2)), cancellation);
        else
        {
            BetaMu.CheckTarget(target, b);
            using var mu = new BetaMu(model.parameters(), b, options.L1, options.L2, options.Orthogonal);
            for (var i = 0; i < steps; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                using (var loss = mu.step(() => (model.forward(), target))) Record(loss.item<double>());
                model.NormalizeComponents(options.Normalize);
            }
        }
        var w = Flatten(model.W);
        var h = kind == "nmf" ? TorchArrays.ToNdArray(model.H.t()) : Flatten(model.H.reshape(k, -1));
        NdArray wh;
        using (no_grad()) wh = TorchArrays.ToNdArray(kind == "nmf" ? model.forward().t() : model.forward().reshape(f, t));
        Func<string, string, Shared.Manifest.ModelManifest> export = model is DeconvolutionComponent deconvolution
            ? (folder, name) => DeconvolutionExport.Export(deconvolution, folder, name, b, options.ExportIterations)
            : (folder, name) => NmfExport.Export(Nmf.FromTemplates(w), folder, name, b, options.ExportIterations);
        return new(kind, k, w, h, wh, history, lossName, export);
    }

    /// <summary>
    /// The magnitude spectrogram (bins, frames) of a clip scaled to mean 1, what <c>pipeline-train decompose</c> fits for
    /// an audio file: learning rates and losses then do not depend on the recording's level.
    /// </summary>
    public static NdArray Spectrogram(Shared.Audio.AudioClip clip, int nFft, int hop, string source)
    {
        var v = new Shared.Audio.Stft(nFft, hop).Magnitude(clip.Samples, 1f, source);
        var mean = Math.Max(v.Data.Average(x => (double)x), 1e-12);
        System.Numerics.Tensors.TensorPrimitives.Divide(v.Data, (float)mean, v.Data);
        return v;
    }

    /// <summary>A tensor as a matrix: first axis kept as rows, the rest flattened into columns.</summary>
    static NdArray Flatten(Tensor t) => TorchArrays.ToNdArray(t.reshape(t.shape[0], -1));
}
