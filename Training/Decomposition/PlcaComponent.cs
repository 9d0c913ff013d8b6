using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>How a PLCA fit ended.</summary>
/// <param name="Iterations">EM iterations run.</param>
/// <param name="Mass">The data's total mass Σ V, by which the model's distribution is scaled back.</param>
public sealed record PlcaFitResult(int Iterations, bool Converged, double Mass, IReadOnlyList<double> LogLikelihood);

/// <summary>
/// Probabilistic latent component analysis, the torchnmf PLCA family, as a <c>torch.nn.Module</c> (parameters "W",
/// "H", "Z"): V / ΣV is modelled as a distribution Σᵣ Z[r]·W[·, r, ·]·H[·, r, ·] with every factor a distribution over
/// its non-component axes. Fitting is EM with Dirichlet priors (αW, αH, αZ; 1 is flat): the E-step weights
/// R = V / V̂ are back-propagated once through the reconstruction (a vector-Jacobian product gives Σ R·∂V̂/∂p for
/// every factor at once), each factor becomes p·(Σ R·∂V̂/∂p) + α − 1, clipped at 0 and renormalised (Smaragdis,
/// Raj and Shashanka 2006). A model only says how it reconstructs.
/// </summary>
public abstract class PlcaComponent : nn.Module
{
    /// <summary>Component distributions over the data's features (and kernel offsets).</summary>
    public Parameter W { get; }
    /// <summary>Component distributions over samples / positions.</summary>
    public Parameter H { get; }
    /// <summary>Component priors, (R).</summary>
    public Parameter Z { get; }

    private protected PlcaComponent(string name, long[] wShape, long[] hShape, long rank, Generator? generator, Device? device) : base(name)
    {
        W = nn.Parameter(Normalised(rand(wShape, generator: generator) + 0.01f, 1));
        H = nn.Parameter(Normalised(rand(hShape, generator: generator) + 0.01f, 1));
        Z = nn.Parameter(full(rank, 1f / rank));
        register_parameter("W", W);
        register_parameter("H", H);
        register_parameter("Z", Z);
        if (device is not null) this.to(device);
    }

    /// <summary>"(2, 3, 4)": a shape as error messages write it.</summary>
    private protected static string ShapeText(IEnumerable<long> shape) => NonNegativeComponent.ShapeText(shape);

    /// <summary>V̂ as a distribution, from the factors.</summary>
    public abstract Tensor Reconstruct(Tensor h, Tensor w, Tensor z);

    /// <summary>The model's distribution (sums to 1).</summary>
    public Tensor forward() => Reconstruct(H, W, Z);

    /// <summary>The reconstruction in V's units: the distribution times the data's mass.</summary>
    public Tensor Reconstruction(double mass)
    {
        using var _ = no_grad();
        return Reconstruct(H, W, Z) * mass;
    }

    /// <summary>Fits V by EM; stops when the log-likelihood's relative change falls below <paramref name="tolerance"/>.</summary>
    /// <exception cref="InvalidInputException">V is negative, non-finite or all zeros.</exception>
    /// <exception cref="InvalidOptionException">An option is out of range.</exception>
    public PlcaFitResult Fit(Tensor v, double tolerance = 1e-4, int maxIterations = 200, double wAlpha = 1, double hAlpha = 1, double zAlpha = 1,
        IProgress<(int Iteration, double LogLikelihood)>? progress = null, CancellationToken cancellation = default)
    {
        if (maxIterations < 1 || !(tolerance >= 0) || !(wAlpha >= 0) || !(hAlpha >= 0) || !(zAlpha >= 0))
            throw new InvalidOptionException("PLCA: iterations must be ≥ 1 and tolerance and Dirichlet parameters ≥ 0");
        var mass = Mass(v);
        using var target = (v.to(W.device) / mass).detach();
        var history = new List<double>();
        var converged = false;
        var iteration = 0;
        Parameter[] factors = [W, H, Z];
        while (iteration < maxIterations)
        {
            cancellation.ThrowIfCancellationRequested();
            iteration++;
            using (NewDisposeScope())
            {
                Tensor y;
                using (enable_grad()) y = Reconstruct(H, W, Z);
                using var _ = no_grad();
                var (ratio, logLikelihood) = RatioAndLogLikelihood(target, y.detach());
                history.Add(logLikelihood);
                progress?.Report((iteration, logLikelihood));
                var gradients = autograd.grad([y], factors, [ratio]);
                Update(W, gradients[0], wAlpha, byComponent: true);
                Update(H, gradients[1], hAlpha, byComponent: true);
                Update(Z, gradients[2], zAlpha, byComponent: false);
            }
            if (history.Count > 1 && Math.Abs(history[^1] - history[^2]) <= tolerance * Math.Abs(history[^2])) { converged = true; break; }
        }
        return new PlcaFitResult(iteration, converged, mass, history);
    }

    /// <summary>
    /// Activations of new data against the fixed W: EM for the joint P(sample/position, component) A (H's shape),
    /// A ← A·(Σ R·∂V̂/∂A), renormalised to sum 1 (W fixed, Z folded into A), from a uniform start. Returns A and
    /// the reconstruction, both scaled by V's mass — what the exported activation graph computes.
    /// </summary>
    /// <exception cref="InvalidInputException">V does not match the templates, or is negative, non-finite or all zeros.</exception>
    public (Tensor Activations, Tensor Reconstruction) EstimateActivations(Tensor v, int iterations)
    {
        if (iterations < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        var hShape = HShapeFor(v);
        var mass = Mass(v);
        using var scope = NewDisposeScope();
        var target = (v.to(W.device) / mass).detach();
        var ones = ones_like(Z);
        var w = W.detach();
        var a = full(hShape, 1.0 / hShape.Aggregate(1L, (p, s) => p * s), device: W.device);
        for (var i = 0; i < iterations; i++)
        {
            var leaf = a.detach().requires_grad_(true);
            Tensor y;
            using (enable_grad()) y = Reconstruct(leaf, w, ones);
            var gradient = autograd.grad([y], [leaf], [target / y.detach().clamp_min(BetaDivergence.DefaultEpsilon)])[0];
            using var _ = no_grad();
            a = Normalised(a * gradient, -1);
        }
        using (no_grad())
            return ((a * mass).MoveToOuterDisposeScope(), (Reconstruct(a, w, ones) * mass).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The E-step weights V / V̂ and the log-likelihood Σ V·ln V̂, V̂ floored at 1e-30. On the CPU, for float32, one
    /// vectorised pass over the tensors' memory in parallel chunks (the products summed in double precision, the chunks
    /// added in a fixed order): LibTorch's log and float64 sum took 10× longer here than this pass; elsewhere LibTorch's ops.
    /// </summary>
    internal static (Tensor Ratio, double LogLikelihood) RatioAndLogLikelihood(Tensor target, Tensor y)
    {
        if (!TorchArrays.CpuFloat32(target, y))
        {
            var floored = y.clamp_min(1e-30);
            return (target / floored, (target * floored.log()).sum(type: ScalarType.Float64).item<double>());
        }
        const int chunk = 16384;
        var ratio = empty_like(y);
        var count = y.numel();
        var chunks = (int)((count + chunk - 1) / chunk);
        var partial = new double[chunks];
        var (t, yy, r) = (TorchArrays.Float32Pointer(target), TorchArrays.Float32Pointer(y), TorchArrays.Float32Pointer(ratio));
        Parallel.For(0, chunks, Shared.Threading.ComputeThreads.Options, () => new float[chunk], (c, _, floored) =>
        {
            var start = (long)c * chunk;
            var length = (int)Math.Min(chunk, count - start);
            unsafe
            {
                var tc = new ReadOnlySpan<float>((float*)t + start, length);
                var f = floored.AsSpan(0, length);
                System.Numerics.Tensors.TensorPrimitives.Max(new ReadOnlySpan<float>((float*)yy + start, length), 1e-30f, f);
                System.Numerics.Tensors.TensorPrimitives.Divide(tc, f, new Span<float>((float*)r + start, length));
                System.Numerics.Tensors.TensorPrimitives.Log(f, f);
                double sum = 0;
                for (var i = 0; i < length; i++) sum += (double)tc[i] * f[i];
                partial[c] = sum;
            }
            return floored;
        }, _ => { });
        return (ratio, partial.Sum());
    }

    /// <summary>Σ V, after checking V is non-negative, finite and not all zeros.</summary>
    static double Mass(Tensor v)
    {
        BetaMu.CheckTarget(v, beta: 1, "V");
        var mass = v.sum(type: ScalarType.Float64).item<double>();
        if (!(mass > 0)) throw new InvalidInputException("PLCA needs a V with positive mass; this one is all zeros");
        return mass;
    }

    /// <summary>H's shape for data <paramref name="v"/> (the model's own H may belong to other data).</summary>
    /// <exception cref="InvalidInputException">V does not match the templates.</exception>
    private protected abstract long[] HShapeFor(Tensor v);

    static void Update(Parameter p, Tensor gradient, double alpha, bool byComponent)
    {
        var updated = (p.detach() * gradient + (alpha - 1)).clamp_min(0);
        p.detach().copy_(Normalised(updated, byComponent ? 1 : -1));
    }

    /// <summary>Each slice along <paramref name="componentAxis"/> scaled to sum to 1 (−1: the whole tensor).</summary>
    private protected static Tensor Normalised(Tensor t, int componentAxis)
    {
        using var _ = no_grad();
        if (componentAxis < 0) return t / (t.sum() + 1e-30f);
        var axes = Enumerable.Range(0, (int)t.dim()).Where(a => a != componentAxis).Select(a => (long)a).ToArray();
        return t / (t.sum(axes, keepdim: true) + 1e-30f);
    }
}
