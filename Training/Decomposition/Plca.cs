using Pipeline.Shared.Threading;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>How a PLCA fit ended.</summary>
/// <param name="Iterations">EM iterations run.</param>
/// <param name="Mass">The data's total mass Σ V, by which the model's distribution is scaled back.</param>
public sealed record PlcaFitResult(int Iterations, bool Converged, double Mass, IReadOnlyList<double> LogLikelihood);

/// <summary>
/// Probabilistic latent component analysis, the torchnmf PLCA family: V / ΣV is modelled as a distribution
/// Σᵣ Z[r]·W[·, r, ·]·H[·, r, ·] with every factor a distribution over its non-component axes. Fitting is EM
/// with Dirichlet priors (αW, αH, αZ; 1 is flat): the E-step weights R = V / V̂ are back-propagated once through
/// the reconstruction (a vector-Jacobian product gives Σ R·∂V̂/∂p for every factor at once), each factor becomes
/// p·(Σ R·∂V̂/∂p) + α − 1, clipped at 0 and renormalised. A model only says how it reconstructs.
/// </summary>
public abstract class PlcaComponent : Module
{
    /// <summary>Component distributions over the data's features (and kernel offsets).</summary>
    public Parameter W { get; }
    /// <summary>Component distributions over samples / positions.</summary>
    public Parameter H { get; }
    /// <summary>Component priors, (R).</summary>
    public Parameter Z { get; }

    private protected PlcaComponent(int[] wShape, int[] hShape, int rank, Generator? generator)
    {
        var g = generator ?? Generator.Default;
        W = RegisterParameter("W", Normalised(Tensor.Rand(g, wShape) + 0.01f, 1));
        H = RegisterParameter("H", Normalised(Tensor.Rand(g, hShape) + 0.01f, 1));
        Z = RegisterParameter("Z", Tensor.Full(1f / rank, rank));
    }

    /// <summary>V̂ as a distribution, from the factors.</summary>
    public abstract Tensor Reconstruct(Tensor h, Tensor w, Tensor z);

    /// <summary>The model's distribution (sums to 1).</summary>
    public override Tensor Forward(Tensor input) => Reconstruct(H, W, Z);

    /// <summary>The reconstruction in V's units: the distribution times the data's mass.</summary>
    public Tensor Reconstruction(double mass)
    {
        using var _ = Tensor.NoGrad();
        return Reconstruct(H, W, Z).Mul((float)mass);
    }

    /// <summary>Fits V by EM; stops when the log-likelihood's relative change falls below <paramref name="tolerance"/>.</summary>
    public PlcaFitResult Fit(Tensor v, double tolerance = 1e-4, int maxIterations = 200, double wAlpha = 1, double hAlpha = 1, double zAlpha = 1,
        IProgress<(int Iteration, double LogLikelihood)>? progress = null)
    {
        v.ToNdArray().RequireNonNegativeFinite("V");
        double mass = 0;
        foreach (var x in v.Span) mass += x;
        if (mass <= 0) throw new InvalidInputException("PLCA needs a V with positive mass; this one is all zeros");
        if (maxIterations < 1 || tolerance < 0 || wAlpha < 0 || hAlpha < 0 || zAlpha < 0)
            throw new InvalidOptionException("PLCA: iterations must be ≥ 1 and tolerance and Dirichlet parameters ≥ 0");
        var target = v.Mul((float)(1 / mass)).Detach();
        var history = new List<double>();
        var converged = false;
        var iteration = 0;
        while (iteration < maxIterations)
        {
            iteration++;
            foreach (var p in new[] { W, H, Z }) p.Grad = null;
            var y = Reconstruct(H, W, Z);
            var (ratio, logLikelihood) = RatioAndLogLikelihood(target, y);
            history.Add(logLikelihood);
            progress?.Report((iteration, logLikelihood));
            y.Backward(ratio);
            Update(W, wAlpha, byComponent: true);
            Update(H, hAlpha, byComponent: true);
            Update(Z, zAlpha, byComponent: false);
            if (history.Count > 1 && Math.Abs(history[^1] - history[^2]) <= tolerance * Math.Abs(history[^2])) { converged = true; break; }
        }
        return new PlcaFitResult(iteration, converged, mass, history);
    }

    /// <summary>
    /// Activations of new data against the fixed W: EM for the joint P(sample/position, component) A (H's shape),
    /// A ← A·(Σ R·∂V̂/∂A), renormalised to sum 1 (W fixed, Z folded into A), from a uniform start. Returns A and
    /// the reconstruction, both scaled by V's mass — what the exported activation graph computes.
    /// </summary>
    public (Tensor Activations, Tensor Reconstruction) EstimateActivations(Tensor v, int iterations)
    {
        v.ToNdArray().RequireNonNegativeFinite("V");
        double mass = 0;
        foreach (var x in v.Span) mass += x;
        if (mass <= 0) throw new InvalidInputException("PLCA needs a V with positive mass; this one is all zeros");
        if (iterations < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        var target = v.Mul((float)(1 / mass)).Detach();
        var hShape = HShapeFor(v);
        var ones = Tensor.Ones(Z.Count);
        var w = W.Detach();
        var a = Tensor.Full(1f / Tensor.CountOf(hShape), hShape);
        for (var i = 0; i < iterations; i++)
        {
            a.RequiresGrad = true;
            var y = Reconstruct(a, w, ones);
            var ratio = Tensor.Zeros([.. y.Shape]);
            ReadOnlySpan<float> t = target.Span, yy = y.Span;
            var r = ratio.Span;
            for (var j = 0; j < r.Length; j++) r[j] = t[j] / Math.Max(yy[j], BetaDivergence.DefaultEpsilon);
            y.Backward(ratio);
            Tensor next;
            using (Tensor.NoGrad()) next = a.Detach() * a.Grad!;
            a = Normalised(next, -1);
        }
        using (Tensor.NoGrad())
            return (a.Mul((float)mass), Reconstruct(a, w, ones).Mul((float)mass));
    }

    /// <summary>
    /// The E-step weights V / V̂ and the log-likelihood Σ V·ln V̂ (V̂ floored at 1e-30), in parallel chunks: vectorised
    /// float division and logarithm, the products summed in double precision and the chunks added in a fixed order.
    /// </summary>
    static (Tensor Ratio, double LogLikelihood) RatioAndLogLikelihood(Tensor target, Tensor y)
    {
        const int chunk = 16384;
        var ratio = Tensor.Empty([.. y.Shape]);
        var (t, yy, r) = (Segment(target), Segment(y), Segment(ratio));
        var chunks = (r.Count + chunk - 1) / chunk;
        var partial = new double[chunks];
        Parallel.For(0, chunks, ComputeThreads.Options, () => new float[chunk], (c, _, floored) =>
        {
            var start = c * chunk;
            var count = Math.Min(chunk, r.Count - start);
            var f = floored.AsSpan(0, count);
            var tc = t.AsSpan(start, count);
            TensorPrimitives.Max(yy.AsSpan(start, count), 1e-30f, f);
            TensorPrimitives.Divide(tc, f, r.AsSpan(start, count));
            TensorPrimitives.Log(f, f);
            double sum = 0;
            for (var i = 0; i < count; i++) sum += (double)tc[i] * f[i];
            partial[c] = sum;
            return floored;
        }, _ => { });
        double total = 0;
        foreach (var part in partial) total += part;
        return (ratio, total);

        static ArraySegment<float> Segment(Tensor x) => new(x.Storage, x.Offset, x.Count);
    }

    /// <summary>H's shape for data <paramref name="v"/> (the model's own H may belong to other data).</summary>
    private protected abstract int[] HShapeFor(Tensor v);

    static void Update(Parameter p, double alpha, bool byComponent)
    {
        var values = p.Span;
        var grad = p.Grad!.Span;
        for (var i = 0; i < values.Length; i++) values[i] = (float)Math.Max(values[i] * grad[i] + alpha - 1, 0);
        var normalised = byComponent ? Normalised(p, 1) : Normalised(p, -1);
        normalised.Span.CopyTo(values);
    }

    /// <summary>Each slice along <paramref name="componentAxis"/> scaled to sum to 1 (−1: the whole tensor).</summary>
    private protected static Tensor Normalised(Tensor t, int componentAxis)
    {
        using var _ = Tensor.NoGrad();
        if (componentAxis < 0) return t.Div(t.Sum().Add(1e-30f));
        var axes = Enumerable.Range(0, t.Rank).Where(a => a != componentAxis).ToArray();
        return t.Div(t.Sum(axes, keepDim: true).Add(1e-30f));
    }
}

/// <summary>PLCA as torchnmf's: V (N, C) ≈ mass·H·diag(Z)·Wᵀ with W (C, R), H (N, R).</summary>
public sealed class Plca : PlcaComponent
{
    /// <summary>Infers the factors' sizes from V's.</summary>
    public Plca(int[] vShape, int rank, Generator? generator = null)
        : base(vShape.Length == 2 && rank >= 1 ? [vShape[1], rank] : throw new InvalidOptionException($"PLCA needs V (N, C) and a positive rank, got {Tensor.ShapeText(vShape)}, {rank}"),
            [vShape[0], rank], rank, generator) { }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w, Tensor z) => (h * z).MatMul(w.T());

    private protected override int[] HShapeFor(Tensor v) =>
        v.Rank == 2 && v.Size(1) == W.Size(0) ? [v.Size(0), W.Size(1)]
            : throw new InvalidInputException($"V of shape {Tensor.ShapeText(v.Shape)} does not match templates {Tensor.ShapeText(W.Shape)}; expected (N, {W.Size(0)})");
}

/// <summary>
/// Shift-invariant PLCA (SIPLCA, SIPLCA2, SIPLCA3 by the kernel's length): V (N, C, *S) ≈ mass·Σᵣ Z[r]·(W[·, r] ⊛ H[·, r]),
/// W (C, R, *K), H (N, R, *(S − K + 1)): NMFD's reconstruction with component priors.
/// </summary>
public class Siplca : PlcaComponent
{
    /// <summary>Kernel size per spatial dimension.</summary>
    public IReadOnlyList<int> Kernel { get; }

    /// <summary>Infers the factors' sizes from V's; one kernel size per spatial dimension (1, 2 or 3).</summary>
    public Siplca(int[] vShape, int rank, int[] kernel, Generator? generator = null)
        : base(Shapes(vShape, rank, kernel).W, Shapes(vShape, rank, kernel).H, rank, generator) => Kernel = kernel;

    static (int[] W, int[] H) Shapes(int[] vShape, int rank, int[] kernel)
    {
        var s = kernel.Length;
        if (s is < 1 or > 3 || vShape.Length != 2 + s || rank < 1 || kernel.Any(k => k < 1) || kernel.Where((k, i) => k > vShape[2 + i]).Any())
            throw new InvalidOptionException($"SIPLCA needs V (N, C, *S) with 1–3 spatial dimensions, a positive rank and a kernel no larger than V: got {Tensor.ShapeText(vShape)}, {rank}, {Tensor.ShapeText(kernel)}");
        return ([vShape[1], rank, .. kernel], [vShape[0], rank, .. Enumerable.Range(0, s).Select(i => vShape[2 + i] - kernel[i] + 1)]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w, Tensor z)
    {
        var order = Enumerable.Range(0, w.Rank).ToArray();
        (order[0], order[1]) = (1, 0);
        var shape = Enumerable.Repeat(1, h.Rank).ToArray();
        shape[1] = z.Count;
        return Tensor.ConvTranspose(h * z.Reshape(shape), w.Permute(order));
    }

    private protected override int[] HShapeFor(Tensor v)
    {
        if (v.Rank != W.Rank || v.Size(1) != W.Size(0) || Kernel.Where((k, i) => k > v.Size(2 + i)).Any())
            throw new InvalidInputException($"V of shape {Tensor.ShapeText(v.Shape)} does not match templates {Tensor.ShapeText(W.Shape)}");
        return [v.Size(0), W.Size(1), .. Kernel.Select((k, i) => v.Size(2 + i) - k + 1)];
    }
}

/// <summary>torchnmf's SIPLCA2: shifts along two axes. V (N, C, L, M), W (C, R, K₁, K₂), H (N, R, L − K₁ + 1, M − K₂ + 1).</summary>
public sealed class Siplca2(int[] vShape, int rank, (int Rows, int Columns) kernel, Generator? generator = null)
    : Siplca(vShape, rank, [kernel.Rows, kernel.Columns], generator);

/// <summary>torchnmf's SIPLCA3: shifts along three axes. V (N, C, L, M, O), W (C, R, K₁, K₂, K₃), H (N, R, *(S − K + 1)).</summary>
public sealed class Siplca3(int[] vShape, int rank, (int A, int B, int C) kernel, Generator? generator = null)
    : Siplca(vShape, rank, [kernel.A, kernel.B, kernel.C], generator);
