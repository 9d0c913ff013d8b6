using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// torchnmf's BaseComponent: a module with a non-negative template tensor W and activation tensor H whose
/// forward pass is a reconstruction built only from products and sums of them (so every gradient part is
/// non-negative and <see cref="BetaMu"/> applies). A model says how it reconstructs; fitting lives in the trainers.
/// </summary>
public abstract class NonNegativeComponent : Module
{
    /// <summary>Templates.</summary>
    public Parameter W { get; }
    /// <summary>Activations.</summary>
    public Parameter H { get; }

    /// <summary>Initialises W and H (uniform in [0, 1) from <paramref name="generator"/>, or the given tensors).</summary>
    protected NonNegativeComponent(int[] wShape, int[] hShape, Generator? generator, Tensor? w, Tensor? h, bool trainableW, bool trainableH)
    {
        var g = generator ?? Generator.Default;
        W = RegisterParameter("W", Initial(w, wShape, g, "W"));
        H = RegisterParameter("H", Initial(h, hShape, g, "H"));
        W.RequiresGrad = trainableW;
        H.RequiresGrad = trainableH;
    }

    static Tensor Initial(Tensor? given, int[] shape, Generator g, string name)
    {
        if (given is null) return Tensor.Rand(g, shape);
        if (!given.Shape.SequenceEqual(shape))
            throw new InvalidInputException($"{name} of shape {Tensor.ShapeText(given.Shape)}; this model needs {Tensor.ShapeText(shape)}");
        given.ToNdArray().RequireNonNegativeFinite(name);
        return given;
    }

    /// <summary>The model's reconstruction from <paramref name="h"/> and <paramref name="w"/>.</summary>
    public abstract Tensor Reconstruct(Tensor h, Tensor w);

    /// <summary>The reconstruction from the module's own W and H (the input is ignored, as in torchnmf's <c>model()</c>).</summary>
    public override Tensor Forward(Tensor input) => Reconstruct(H, W);

    /// <summary>The reconstruction from the module's own W and H.</summary>
    public Tensor Forward() => Reconstruct(H, W);

    /// <summary>
    /// torchnmf's <c>fit</c>: β multiplicative updates of the trainable factors until the divergence falls by less
    /// than <paramref name="tolerance"/> of its first value between checks (every 10 iterations), with the elastic-net
    /// penalty α·(l1Ratio·L1 + (1 − l1Ratio)·L2); <paramref name="normalize"/> rescales every component of W or H to
    /// unit L2 norm after each iteration. Returns the number of iterations run.
    /// </summary>
    public int Fit(Tensor v, double beta = 1, double tolerance = 1e-4, int maxIterations = 200, double alpha = 0, double l1Ratio = 0,
        IProgress<(int Iteration, double Loss)>? progress = null, FactorNormalization normalize = FactorNormalization.None)
    {
        if (maxIterations < 1 || tolerance < 0 || alpha < 0 || l1Ratio is < 0 or > 1)
            throw new InvalidOptionException("fit: max_iter ≥ 1, tol ≥ 0, alpha ≥ 0 and l1_ratio in [0, 1] are required");
        var trainer = new BetaMu(Parameters(), beta, alpha * l1Ratio, alpha * (1 - l1Ratio));
        trainer.CheckTarget(v);
        double first = double.NaN, previous = double.NaN;
        for (var i = 1; i <= maxIterations; i++)
        {
            var loss = trainer.Step(v, Forward);
            if (normalize != FactorNormalization.None) NormalizeComponents(normalize);
            progress?.Report((i, loss));
            if (i == 1) first = previous = loss;
            else if (i % 10 == 0)
            {
                if (tolerance > 0 && (previous - loss) / first < tolerance) return i;
                previous = loss;
            }
        }
        return maxIterations;
    }

    /// <summary>
    /// Rescales each component r (axis 1 of both W and H) of the chosen factor to unit L2 norm and the same component
    /// of the other factor by that norm: the reconstruction is bilinear in (W_r, H_r), so it does not change.
    /// </summary>
    public void NormalizeComponents(FactorNormalization which)
    {
        if (which == FactorNormalization.None) return;
        var (unit, other) = which == FactorNormalization.W ? (W, H) : (H, W);
        var norms = new double[unit.Size(1)];
        ForEachComponentEntry(unit, (r, x) => { norms[r] += (double)x * x; return x; });
        for (var r = 0; r < norms.Length; r++) norms[r] = Math.Sqrt(norms[r]);
        // a dead component (norm 0) stays as it is
        ForEachComponentEntry(unit, (r, x) => norms[r] > 0 ? (float)(x / norms[r]) : x);
        ForEachComponentEntry(other, (r, x) => norms[r] > 0 ? (float)(x * norms[r]) : x);
    }

    /// <summary>Replaces every entry of <paramref name="p"/> (outer, R, inner) by <paramref name="map"/>(its component, its value).</summary>
    static void ForEachComponentEntry(Tensor p, Func<int, float, float> map)
    {
        var values = p.Span;
        int components = p.Size(1), inner = p.Count / (p.Size(0) * components);
        for (var i = 0; i < values.Length; i++) values[i] = map(i / inner % components, values[i]);
    }

    /// <summary>
    /// torchnmf's <c>sparse_fit</c>: W and/or H held at Hoyer sparseness <paramref name="sW"/> / <paramref name="sH"/>
    /// (per component) by projected gradient on the β-divergence, the unconstrained factor following multiplicative
    /// updates; <paramref name="progress"/> sees the divergence after every iteration. Returns the number of iterations run.
    /// </summary>
    public int SparseFit(Tensor v, double beta = 2, int maxIterations = 200, double? sW = null, double? sH = null,
        IProgress<(int Iteration, double Loss)>? progress = null)
    {
        if (maxIterations < 1) throw new InvalidOptionException($"sparse_fit: max_iter must be ≥ 1, got {maxIterations}");
        var constrained = new List<(Parameter P, double Sparsity)>();
        if (sW is { } w && W.RequiresGrad) constrained.Add((W, w));
        if (sH is { } h && H.RequiresGrad) constrained.Add((H, h));
        // sparseness per component: all of a template W[:, r, …] or an activation H[:, r, …] is one vector
        var projections = constrained.Select(c => new SparsityProj([c.P], c.Sparsity, perComponent: true)).ToList();
        var free = Parameters().Where(p => p.RequiresGrad && constrained.All(c => !ReferenceEquals(c.P, p))).ToList();
        var mu = free.Count > 0 ? new BetaMu(free, beta) : null;
        mu?.CheckTarget(v);
        for (var i = 0; i < maxIterations; i++)
        {
            foreach (var projection in projections)
                projection.Step(() => BetaDivergenceLoss(v, Forward(), beta));
            mu?.Step(v, Forward);
            if (progress is not null)
                using (Tensor.NoGrad()) progress.Report((i + 1, BetaDivergence.Compute(v.Span, Forward().Span, beta)));
        }
        return maxIterations;
    }

    /// <summary>The β-divergence as a differentiable scalar (for projected gradient).</summary>
    static Tensor BetaDivergenceLoss(Tensor v, Tensor y, double beta)
    {
        var safe = y.Clamp(min: BetaDivergence.DefaultEpsilon);
        if (beta == 2) return (v - y).Square().Sum() * 0.5f;
        if (beta == 1) return (v * (v.Add(BetaDivergence.DefaultEpsilon).Log() - safe.Log()) - v + safe).Sum();
        if (beta == 0) return (v / safe - (v.Add(BetaDivergence.DefaultEpsilon) / safe).Log() - 1f).Sum();
        var b = (float)beta;
        return ((v.Pow(b) + safe.Pow(b) * (b - 1) - v * safe.Pow(b - 1) * b) * (1f / (b * (b - 1)))).Sum();
    }
}

/// <summary>V ≈ H·Wᵀ as torchnmf's NMF: V (N, C), W (C, R), H (N, R).</summary>
public sealed class NmfComponent : NonNegativeComponent
{
    /// <summary>Infers W and H from V's shape.</summary>
    public NmfComponent(int[] vShape, int rank, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
        : base(Check(vShape, rank) is var (n, c) ? [c, rank] : [], [n, rank], generator, w, h, trainableW, trainableH) { }

    static (int N, int C) Check(int[] vShape, int rank)
    {
        if (vShape.Length != 2 || rank < 1) throw new InvalidOptionException($"NMF needs V (N, C) and a positive rank, got {Tensor.ShapeText(vShape)} and {rank}");
        return (vShape[0], vShape[1]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w) => h.MatMul(w.T());
}

/// <summary>
/// The convolutional family of torchnmf (NMFD, NMF2D, NMF3D): V ≈ Σ over kernel offsets of W shifted against H,
/// i.e. a transposed convolution of H with W. V: (N, C, *S), W: (C, R, *K), H: (N, R, *(S − K + 1)).
/// </summary>
public abstract class DeconvolutionComponent : NonNegativeComponent
{
    /// <summary>The kernel size per spatial dimension.</summary>
    public IReadOnlyList<int> Kernel { get; }

    private protected DeconvolutionComponent(string name, int[] vShape, int rank, int[] kernel, Generator? generator, Tensor? w, Tensor? h, bool trainableW, bool trainableH)
        : base(Shapes(name, vShape, rank, kernel).W, Shapes(name, vShape, rank, kernel).H, generator, w, h, trainableW, trainableH) => Kernel = kernel;

    static (int[] W, int[] H) Shapes(string name, int[] vShape, int rank, int[] kernel)
    {
        var spatial = kernel.Length;
        if (vShape.Length != 2 + spatial || rank < 1 || kernel.Any(k => k < 1))
            throw new InvalidOptionException($"{name} needs V with {2 + spatial} dimensions (N, C, {string.Join(", ", Enumerable.Range(1, spatial).Select(i => $"S{i}"))}), a positive rank and kernel, got {Tensor.ShapeText(vShape)}, {rank}, {Tensor.ShapeText(kernel)}");
        for (var i = 0; i < spatial; i++)
            if (kernel[i] > vShape[2 + i])
                throw new InvalidOptionException($"{name}: the kernel {Tensor.ShapeText(kernel)} is larger than V {Tensor.ShapeText(vShape)}");
        return ([vShape[1], rank, .. kernel], [vShape[0], rank, .. Enumerable.Range(0, spatial).Select(i => vShape[2 + i] - kernel[i] + 1)]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w) => Tensor.ConvTranspose(h, TransposedTemplates(w));

    /// <summary>W with its first two axes swapped, (R, C, *K): the weight of both the reconstruction and its adjoint.</summary>
    internal static Tensor TransposedTemplates(Tensor w)
    {
        var order = Enumerable.Range(0, w.Rank).ToArray();
        (order[0], order[1]) = (1, 0);
        return w.Permute(order);
    }

    /// <summary>
    /// Activations of <paramref name="v"/> (N, C, *S) against the fixed templates: H₀ = conv(V, Wᵀ)/ΣW (a matched
    /// filter), then <paramref name="iterations"/> β multiplicative updates of H alone,
    /// H ← H·(conv(V·V̂^(β−2), Wᵀ) / conv(V̂^(β−1), Wᵀ))^γ — exactly what the exported activation graph computes.
    /// </summary>
    public Tensor EstimateActivations(Tensor v, int iterations, double beta = 1, float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (iterations < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        if (v.Rank != W.Rank || v.Size(1) != W.Size(0))
            throw new InvalidInputException($"V of shape {Tensor.ShapeText(v.Shape)} does not match templates {Tensor.ShapeText(W.Shape)}");
        v.ToNdArray().RequireNonNegativeFinite("V");
        using var _ = Tensor.NoGrad();
        var wt = TransposedTemplates(W.Detach());
        var h = Tensor.Conv(v, wt).Mul(1f / W.Detach().Sum().Item());
        var gamma = (float)MultiplicativeUpdates.Exponent(beta);
        for (var i = 0; i < iterations; i++)
        {
            var y = Tensor.ConvTranspose(h, wt).Clamp(min: epsilon);
            var num = Tensor.Conv(v * y.Pow((float)(beta - 2)), wt);
            var den = Tensor.Conv(y.Pow((float)(beta - 1)), wt).Clamp(min: epsilon);
            var ratio = num / den;
            if (gamma != 1f) ratio = ratio.Pow(gamma);
            h = h * ratio;
        }
        return h;
    }
}

/// <summary>
/// Non-negative matrix factor deconvolution (Smaragdis 2004) as torchnmf's NMFD:
/// V[n, i, j] ≈ Σₜ Σᵣ W[i, r, t]·H[n, r, j − t]. V: (N, C, L), W: (C, R, T), H: (N, R, L − T + 1).
/// </summary>
public sealed class Nmfd(int[] vShape, int rank, int window, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
    : DeconvolutionComponent("NMFD", vShape, rank, [window], generator, w, h, trainableW, trainableH)
{
    /// <summary>The convolution window T.</summary>
    public int Window => Kernel[0];
}

/// <summary>
/// 2-d deconvolution as torchnmf's NMF2D: shifts in time and frequency.
/// V: (N, C, L, M), W: (C, R, K₁, K₂), H: (N, R, L − K₁ + 1, M − K₂ + 1).
/// </summary>
public sealed class Nmf2d(int[] vShape, int rank, (int Rows, int Columns) kernel, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
    : DeconvolutionComponent("NMF2D", vShape, rank, [kernel.Rows, kernel.Columns], generator, w, h, trainableW, trainableH);

/// <summary>
/// 3-d deconvolution as torchnmf's NMF3D.
/// V: (N, C, L, M, O), W: (C, R, K₁, K₂, K₃), H: (N, R, L − K₁ + 1, M − K₂ + 1, O − K₃ + 1).
/// </summary>
public sealed class Nmf3d(int[] vShape, int rank, (int A, int B, int C) kernel, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
    : DeconvolutionComponent("NMF3D", vShape, rank, [kernel.A, kernel.B, kernel.C], generator, w, h, trainableW, trainableH);
