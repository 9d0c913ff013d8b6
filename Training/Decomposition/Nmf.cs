using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using Pipeline.Training.Trainers;
using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>Options of <see cref="Nmf"/>'s <c>Fit</c>; the defaults are torchnmf's.</summary>
public sealed record NmfFitOptions
{
    /// <summary>β of the divergence: 2 Euclidean, 1 Kullback-Leibler, 0 Itakura-Saito, or any other real.</summary>
    public double Beta { get; init; } = 1;
    /// <summary>Stop when the loss fell by less than this fraction of the initial loss since the last check; 0 runs all iterations.</summary>
    public double Tolerance { get; init; } = 1e-4;
    public int MaxIterations { get; init; } = 200;
    /// <summary>Strength of the penalty on W and H; 0 for none.</summary>
    public double Alpha { get; init; }
    /// <summary>Mix of the penalty: 0 is L2 (Frobenius), 1 is L1, in between a blend.</summary>
    public double L1Ratio { get; init; }
    /// <summary>
    /// torchnmf's orthogonality penalty α·Σ_{r≠s}⟨p_r, p_s⟩ on the components of W and H; 0 for none. With it a fit
    /// runs <see cref="BetaMu"/>'s own step on every device (the fused CPU kernels do not know it).
    /// </summary>
    public double Orthogonal { get; init; }
    /// <summary>Compute (and report) the loss every this many iterations; 1 reports every iteration.</summary>
    public int LossEvery { get; init; } = 10;
    /// <summary>Floor of reconstructions and update denominators.</summary>
    public float Epsilon { get; init; } = BetaDivergence.DefaultEpsilon;
    /// <summary>
    /// On the CPU, run the fused form of <see cref="BetaMu"/>'s step (<see cref="MultiplicativeUpdates"/>); false runs
    /// <see cref="BetaMu"/> itself there too (the benchmark and the tests compare the two).
    /// </summary>
    internal bool FusedKernels { get; init; } = true;
    /// <summary>After every iteration, rescale each component of W or of H to unit L2 norm (the other factor takes the scale, so W·H is unchanged).</summary>
    public FactorNormalization Normalize { get; init; } = FactorNormalization.None;

    internal (float L1, float L2) Penalties => ((float)(Alpha * L1Ratio), (float)(Alpha * (1 - L1Ratio)));

    /// <summary>The <see cref="L1Ratio"/> that, with <see cref="Alpha"/> = l1 + l2, gives torchnmf's penalties l1·L1 + l2·L2 (0 when both are 0).</summary>
    public static double L1RatioOf(double l1, double l2) => l1 + l2 > 0 ? l1 / (l1 + l2) : 0;

    internal void Validate()
    {
        var problems = new List<string>();
        if (!double.IsFinite(Beta)) problems.Add($"beta must be finite, got {Beta}");
        if (!(Tolerance >= 0)) problems.Add($"tolerance must be ≥ 0, got {Tolerance}");
        if (MaxIterations < 1) problems.Add($"max iterations must be ≥ 1, got {MaxIterations}");
        if (!(Alpha >= 0) || !double.IsFinite(Alpha)) problems.Add($"alpha must be finite and ≥ 0, got {Alpha}");
        if (!(L1Ratio is >= 0 and <= 1)) problems.Add($"l1 ratio must lie in [0, 1], got {L1Ratio}");
        if (!(Orthogonal >= 0) || !double.IsFinite(Orthogonal)) problems.Add($"the orthogonal penalty must be finite and ≥ 0, got {Orthogonal}");
        if (LossEvery < 1) problems.Add($"loss interval must be ≥ 1, got {LossEvery}");
        if (!(Epsilon > 0) || !float.IsFinite(Epsilon)) problems.Add($"epsilon must be finite and > 0, got {Epsilon}");
        if (!Enum.IsDefined(Normalize)) problems.Add($"normalisation must be None, W or H, got {Normalize}");
        if (problems.Count > 0) throw new InvalidOptionException(string.Join("; ", problems));
    }
}

/// <summary>Which factor <see cref="NmfFitOptions.Normalize"/> keeps at unit norm per component.</summary>
public enum FactorNormalization
{
    /// <summary>Neither: the scale floats between the factors.</summary>
    None,
    /// <summary>Each template (column of W) has unit L2 norm.</summary>
    W,
    /// <summary>Each activation row of H has unit L2 norm.</summary>
    H,
}

/// <summary>The loss after an iteration.</summary>
public sealed record NmfProgress(int Iteration, double Loss);

/// <summary>What <see cref="Nmf"/>'s <c>Fit</c> did.</summary>
/// <param name="Iterations">Multiplicative-update iterations run.</param>
/// <param name="Converged">Whether the tolerance stopped the fit before the iteration limit.</param>
/// <param name="LossHistory">The loss at iteration 0 and at every check.</param>
public sealed record NmfFitResult(int Iterations, double InitialLoss, double FinalLoss, bool Converged, IReadOnlyList<NmfProgress> LossHistory);

/// <summary>
/// Non-negative matrix factorisation V ≈ W·H by β-divergence multiplicative updates, in scikit-learn's shape for
/// matrix users (<see cref="Fit(NdArray, NmfFitOptions?, IProgress{NmfProgress}?, CancellationToken)"/>,
/// <see cref="Transform"/>, <see cref="FitTransform"/>, the learned <see cref="W"/>, <see cref="IterationCount"/>,
/// <see cref="ReconstructionError"/>) over torchnmf's module, <see cref="NmfComponent"/> (<see cref="Module"/>).
/// Shapes: V (F, T) with F features (frequency bins) and T frames, W (F, K) templates, H (K, T) activations; the
/// module holds them in torchnmf's layout, V (T, F) ≈ H (T, K)·W (F, K)ᵀ.
/// </summary>
/// <remarks>
/// Construct with a rank and a seed and call <c>Fit</c> (dense V, or a <see cref="SparseMatrix"/>), or give fixed templates with
/// <see cref="FromTemplates"/> to estimate activations only. The random initialisation draws uniform
/// values scaled by √(mean(V)/K), so W·H starts at the data's magnitude; the same seed gives the same model.
/// On the CPU a dense fit runs <see cref="MultiplicativeUpdates"/>, the fused form of <see cref="BetaMu"/>'s step;
/// on another device, <see cref="BetaMu"/> itself.
/// </remarks>
public sealed class Nmf
{
    NdArray? _w, _h; // the factors given or drawn, until a fit builds the module from them
    readonly Device? _device;

    /// <summary>A model of rank <paramref name="rank"/> whose factors are drawn from <paramref name="seed"/> at the first fit, on <paramref name="device"/> (the CPU when null).</summary>
    public Nmf(int rank, int seed = 0, Device? device = null)
    {
        if (rank < 1) throw new InvalidOptionException($"rank must be ≥ 1, got {rank}");
        Rank = rank;
        Seed = seed;
        _device = device;
    }

    /// <summary>A model with given initial factors (either may be null to draw it at the first fit).</summary>
    /// <param name="w">Templates, (F, K).</param>
    /// <param name="h">Activations, (K, T).</param>
    public Nmf(NdArray? w, NdArray? h, bool trainableW = true, bool trainableH = true, int seed = 0, Device? device = null)
    {
        if (w is null && h is null) throw new InvalidOptionException("give W, H or both; use new Nmf(rank) to draw both");
        Rank = w?.Columns ?? h!.Rows;
        if (w is not null && h is not null && w.Columns != h.Rows)
            throw new InvalidInputException($"W {w.ShapeText} and H {h.ShapeText} disagree on the rank");
        if (Rank < 1) throw new InvalidOptionException($"rank must be ≥ 1, got {Rank}");
        w?.RequireNonNegativeFinite("W");
        h?.RequireNonNegativeFinite("H");
        _w = w?.Clone();
        _h = h?.Clone();
        TrainableW = trainableW;
        TrainableH = trainableH;
        Seed = seed;
        _device = device;
        if (!trainableW && !trainableH) throw new InvalidOptionException("at least one of W and H must be trainable");
    }

    /// <summary>Fixed templates: fitting estimates H only (supervised decomposition).</summary>
    public static Nmf FromTemplates(NdArray w, Device? device = null) => new(w, null, trainableW: false, trainableH: true, device: device);

    public int Rank { get; }
    public int Seed { get; }
    public bool TrainableW { get; } = true;
    public bool TrainableH { get; } = true;
    /// <summary>torchnmf's module the last fit trained (V (T, F) ≈ H·Wᵀ); null before the first fit.</summary>
    public NmfComponent? Module { get; private set; }
    /// <summary>The learned components: templates (F, K); null until given or fitted.</summary>
    public NdArray? W => Module is { } m ? TorchArrays.ToNdArray(m.W) : _w;
    /// <summary>Activations (K, T); null until given or fitted.</summary>
    public NdArray? H
    {
        get
        {
            if (Module is null) return _h;
            using var ht = Module.H.detach().t();
            return TorchArrays.ToNdArray(ht);
        }
    }
    /// <summary>Iterations the last fit ran (scikit-learn's <c>n_iter_</c>).</summary>
    public int IterationCount { get; private set; }
    /// <summary>
    /// √(2·D_β(V | W·H)) after the last fit, scikit-learn's <c>reconstruction_err_</c> (for β = 2 the Frobenius norm of V − W·H).
    /// </summary>
    public double ReconstructionError { get; private set; } = double.NaN;

    /// <summary>Fits the trainable factors to a dense <paramref name="v"/> and returns what happened.</summary>
    /// <param name="v">Non-negative, finite data (F, T).</param>
    /// <exception cref="InvalidInputException">V is not a non-empty non-negative finite matrix, has zeros with β ≤ 0, or disagrees with a given factor.</exception>
    /// <exception cref="InvalidOptionException">An option or the rank is out of range.</exception>
    public NmfFitResult Fit(NdArray v, NmfFitOptions? options = null, IProgress<NmfProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new NmfFitOptions();
        options.Validate();
        ValidateData(v, options.Beta, "V");
        Prepare(v.Rows, v.Columns, Mean(v.Data), v.ShapeText);
        using var values = TorchArrays.FromNdArray(v, _device);
        using var vt = values.t().contiguous();
        var (l1, l2) = options.Penalties;
        using IMultiplicativeUpdates updates = options.FusedKernels && options.Orthogonal == 0 && MultiplicativeUpdates.Applies(vt, Module!)
            ? new MultiplicativeUpdates(vt, Module!, options.Beta, options.Epsilon, l1, l2)
            : new ModuleMultiplicativeUpdates(vt, Module!, options.Beta, options.Epsilon, l1, l2, options.Orthogonal);
        return Run(updates, options, progress, cancellationToken);
    }

    /// <summary>
    /// Fits a sparse V (F, T) without densifying it (a LibTorch sparse tensor), for β = 2 or β = 1 (the divergences whose
    /// updates only touch V's stored entries); the same initialisation, penalties, stopping rule and result as the dense
    /// <see cref="Fit(NdArray, NmfFitOptions?, IProgress{NmfProgress}?, CancellationToken)"/>.
    /// </summary>
    public NmfFitResult Fit(SparseMatrix v, NmfFitOptions? options = null, IProgress<NmfProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new NmfFitOptions();
        options.Validate();
        if (options.Beta is not (1 or 2)) throw new InvalidOptionException($"a sparse V supports β = 1 and β = 2, not {options.Beta}; densify it for other β");
        if (options.Orthogonal != 0) throw new InvalidOptionException("a sparse V takes the L1 and L2 penalties, not the orthogonal one; densify it for that");
        if (v.Values.Any(x => x < 0)) throw new InvalidInputException("V must be non-negative");
        var mean = v.Values.Sum(x => (double)x) / ((double)v.Rows * v.Columns);
        if (!(mean > 0)) throw new InvalidInputException("V is all zeros");
        Prepare(v.Rows, v.Columns, mean, $"({v.Rows}, {v.Columns})");
        var (l1, l2) = options.Penalties;
        using var updates = new SparseMultiplicativeUpdates(v, Module!, options.Beta, options.Epsilon, l1, l2);
        return Run(updates, options, progress, cancellationToken);
    }

    /// <summary>Fits as <c>Fit</c> does and returns the activations H (K, T), scikit-learn's <c>fit_transform</c>.</summary>
    public NdArray FitTransform(NdArray v, NmfFitOptions? options = null, IProgress<NmfProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Fit(v, options, progress, cancellationToken);
        return H!;
    }

    /// <summary>
    /// Checks the rank and the given factors against V (F, T), draws the missing ones, and builds <see cref="Module"/>
    /// from them (a refit continues from the factors the last one ended with).
    /// </summary>
    void Prepare(int f, int t, double mean, string shapeText)
    {
        int k = Rank;
        if (k > Math.Max(f, t)) throw new InvalidOptionException($"rank {k} is larger than both dimensions of V {shapeText}");
        var (w, h) = (W, H);
        if (w is not null && w.Rows != f) throw new InvalidInputException($"W {w.ShapeText} needs {w.Rows} features but V {shapeText} has {f}");
        if (h is not null && h.Columns != t) throw new InvalidInputException($"H {h.ShapeText} needs {h.Columns} frames but V {shapeText} has {t}");
        var scale = (float)Math.Sqrt(mean / k);
        var random = new Random(Seed);
        w ??= RandomFactor(f, k, scale, random);
        h ??= RandomFactor(k, t, scale, random);
        using var wt = TorchArrays.FromNdArray(w);
        using var hkt = TorchArrays.FromNdArray(h);
        using var ht = hkt.t();
        Module?.Dispose();
        Module = new NmfComponent([t, f], k, w: wt, h: ht, trainableW: TrainableW, trainableH: TrainableH, device: _device);
        (_w, _h) = (null, null);
    }

    /// <summary>The fit loop every data layout shares: H then W each iteration, the loss every few, the tolerance rule.</summary>
    NmfFitResult Run(IMultiplicativeUpdates updates, NmfFitOptions options, IProgress<NmfProgress>? progress, CancellationToken cancellationToken)
    {
        var initial = updates.Loss();
        var history = new List<NmfProgress> { new(0, initial) };
        progress?.Report(history[0]);
        double previous = initial, loss = initial;
        var converged = initial <= 0;
        var iteration = 0;
        while (!converged && iteration < options.MaxIterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            iteration++;
            if (TrainableH) updates.UpdateH();
            if (TrainableW) updates.UpdateW();
            Module!.NormalizeComponents(options.Normalize);
            if (iteration % options.LossEvery != 0 && iteration != options.MaxIterations) continue;
            loss = updates.Loss();
            var point = new NmfProgress(iteration, loss);
            history.Add(point);
            progress?.Report(point);
            if (options.Tolerance > 0 && (previous - loss) / initial < options.Tolerance) converged = true;
            previous = loss;
        }
        IterationCount = iteration;
        ReconstructionError = Math.Sqrt(2 * Math.Max(loss, 0));
        return new NmfFitResult(iteration, initial, loss, converged, history);
    }

    /// <summary>W·H, (F, T).</summary>
    public NdArray Reconstruct()
    {
        var (w, h) = (W, H);
        if (w is null || h is null) throw new InvalidOperationException("the model has not been fitted");
        return Product(w, h);
    }

    /// <summary>W·H for W (F, K) and H (K, T), by LibTorch's matrix product.</summary>
    public static NdArray Product(NdArray w, NdArray h)
    {
        using var scope = NewDisposeScope();
        return TorchArrays.ToNdArray(TorchArrays.FromNdArray(w).mm(TorchArrays.FromNdArray(h)));
    }

    /// <summary>
    /// Activations of new data against this model's templates, by <paramref name="iterations"/> H updates from
    /// the constant start √(mean(V)/K): the computation the exported activation graph performs.
    /// </summary>
    public NdArray Transform(NdArray v, double beta, int iterations, float epsilon = BetaDivergence.DefaultEpsilon)
    {
        var w = W ?? throw new InvalidOperationException("the model has no templates yet");
        return EstimateActivations(w, v, beta, iterations, epsilon);
    }

    /// <summary>H (K, T) for V (F, T) against fixed W (F, K) (<see cref="ActivationUpdate"/>, on the CPU); see <see cref="Transform"/>.</summary>
    public static NdArray EstimateActivations(NdArray w, NdArray v, double beta, int iterations, float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (iterations < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        ValidateData(v, beta, "V");
        if (v.Rows != w.Rows) throw new InvalidInputException($"V {v.ShapeText} has {v.Rows} features but the templates {w.ShapeText} expect {w.Rows}");
        using var templates = TorchArrays.FromNdArray(w);
        using var data = TorchArrays.FromNdArray(v);
        using var h = TorchActivationOperations.Nmf(templates).Estimate(data, iterations, beta, epsilon);
        return TorchArrays.ToNdArray(h);
    }

    /// <summary>The constant every activation starts from in <see cref="EstimateActivations"/>: √(mean(V)/K).</summary>
    public static float InitialActivation(NdArray v, int rank) => (float)Math.Sqrt(Mean(v.Data) / rank);

    internal static void ValidateData(NdArray v, double beta, string name) =>
        v.RequireDecompositionInput(name, "features", beta);

    static double Mean(float[] data)
    {
        double sum = 0;
        foreach (var x in data) sum += x;
        return sum / data.Length;
    }

    static NdArray RandomFactor(int rows, int columns, float scale, Random random)
    {
        var data = new float[(long)rows * columns];
        // Strictly positive: a multiplicative update can never move an entry away from zero.
        for (var i = 0; i < data.Length; i++) data[i] = scale * (0.01f + random.NextSingle());
        return new NdArray([rows, columns], data);
    }
}
