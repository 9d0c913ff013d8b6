using Pipeline.Shared.Threading;
using System.Numerics.Tensors;
using TorchSharp;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// The divergences NMF minimises, as pure functions summed over all entries (torchnmf's <c>metrics</c>):
/// d_β(v | y) = (v^β + (β−1)·y^β − β·v·y^(β−1)) / (β(β−1)), with the limits β = 1 (generalised
/// Kullback-Leibler, v·ln(v/y) − v + y) and β = 0 (Itakura-Saito, v/y − ln(v/y) − 1); β = 2 is half the
/// squared Euclidean distance. The estimate is floored at <c>epsilon</c> so an empty reconstruction stays finite.
/// Sums are accumulated in double precision, in a fixed order, so the same inputs give the same bits.
/// </summary>
public static class BetaDivergence
{
    /// <summary>Floor of reconstructions and update denominators (float32-normal, far below audio magnitudes).</summary>
    public const float DefaultEpsilon = 1e-12f;

    const int Chunk = 8192;

    /// <summary>D_β(target | estimate), summed; the spans must have equal length.</summary>
    public static unsafe double Compute(ReadOnlySpan<float> target, ReadOnlySpan<float> estimate, double beta, float epsilon = DefaultEpsilon)
    {
        if (target.Length != estimate.Length)
            throw new ArgumentException($"target has {target.Length} entries, estimate {estimate.Length}");
        fixed (float* v = target, y = estimate) return Compute((IntPtr)v, (IntPtr)y, target.Length, beta, epsilon);
    }

    /// <summary>
    /// D_β(<paramref name="target"/> | <paramref name="estimate"/>) summed, as a differentiable LibTorch scalar on the
    /// tensors' device: the same formula and floor as <see cref="Compute(ReadOnlySpan{float}, ReadOnlySpan{float}, double, float)"/>
    /// (terms with v = 0 contribute y for β = 1), summed in float64.
    /// </summary>
    public static torch.Tensor Loss(torch.Tensor target, torch.Tensor estimate, double beta, float epsilon = DefaultEpsilon)
    {
        // the fused pass over the tensors' memory when nothing needs a gradient: LibTorch's log and float64 sum are slow here
        if (!estimate.requires_grad && !target.requires_grad && Engine.TorchArrays.CpuFloat32(target, estimate) && target.numel() == estimate.numel())
            return torch.tensor(Compute(Engine.TorchArrays.Float32Pointer(target), Engine.TorchArrays.Float32Pointer(estimate), target.numel(), beta, epsilon), torch.ScalarType.Float64);
        using var scope = torch.NewDisposeScope();
        var y = estimate.clamp_min(epsilon);
        torch.Tensor terms;
        if (beta == 2) terms = (target - y).square() * 0.5;
        else if (beta == 1 || beta == 0)
        {
            // ln(v/y), with v = 0 giving ln 1: v·ln(v/y) → 0 there
            var logRatio = torch.where(target > 0, target / y, torch.ones_like(y)).log();
            terms = beta == 1 ? target * logRatio - target + y : target / y - logRatio - 1;
        }
        else terms = (target.pow(beta) + (beta - 1) * y.pow(beta) - beta * target * y.pow(beta - 1)) / (beta * (beta - 1));
        return terms.sum(type: torch.ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>½·Σ(v − y)².</summary>
    public static double Euclidean(ReadOnlySpan<float> target, ReadOnlySpan<float> estimate) => Compute(target, estimate, 2);
    /// <summary>Σ v·ln(v/y) − v + y.</summary>
    public static double KlDivergence(ReadOnlySpan<float> target, ReadOnlySpan<float> estimate) => Compute(target, estimate, 1);
    /// <summary>Σ v/y − ln(v/y) − 1.</summary>
    public static double ItakuraSaito(ReadOnlySpan<float> target, ReadOnlySpan<float> estimate) => Compute(target, estimate, 0);

    /// <summary>
    /// Hoyer's sparseness (√n − ‖x‖₁/‖x‖₂) / (√n − 1): 0 for a constant vector, 1 for a single non-zero.
    /// </summary>
    public static double Sparseness(ReadOnlySpan<float> x)
    {
        if (x.Length < 2) throw new ArgumentException("sparseness needs at least two entries");
        double l1 = 0, l2 = 0;
        foreach (var e in x) { l1 += Math.Abs(e); l2 += (double)e * e; }
        if (l2 == 0) return 0;
        var sqrtN = Math.Sqrt(x.Length);
        return (sqrtN - l1 / Math.Sqrt(l2)) / (sqrtN - 1);
    }

    /// <summary>
    /// The sum over memory the caller keeps alive and pinned (a CPU tensor's storage): chunks run in parallel, partial
    /// sums are added in chunk order.
    /// </summary>
    internal static double Compute(IntPtr v, IntPtr y, long length, double beta, float epsilon)
    {
        var chunks = (int)((length + Chunk - 1) / Chunk);
        var partial = new double[chunks];
        Parallel.For(0, chunks, ComputeThreads.Options, c =>
        {
            var start = (long)c * Chunk;
            var count = (int)Math.Min(Chunk, length - start);
            unsafe
            {
                partial[c] = ChunkSum(new ReadOnlySpan<float>((float*)v + start, count), new ReadOnlySpan<float>((float*)y + start, count), beta, epsilon);
            }
        });
        double sum = 0;
        foreach (var p in partial) sum += p;
        return sum;
    }

    static double ChunkSum(ReadOnlySpan<float> v, ReadOnlySpan<float> yRaw, double beta, float epsilon)
    {
        Span<float> y = stackalloc float[v.Length];
        TensorPrimitives.Max(yRaw, epsilon, y);
        double sum = 0;
        if (beta == 2)
        {
            for (var i = 0; i < v.Length; i++) { double d = (double)v[i] - y[i]; sum += d * d; }
            return 0.5 * sum;
        }
        if (beta == 1 || beta == 0)
        {
            Span<float> logRatio = stackalloc float[v.Length];
            for (var i = 0; i < v.Length; i++) logRatio[i] = v[i] > 0 ? v[i] / y[i] : 1f;
            TensorPrimitives.Log(logRatio, logRatio);
            if (beta == 1)
            {
                for (var i = 0; i < v.Length; i++) sum += (double)v[i] * logRatio[i] - v[i] + y[i];
            }
            else
            {
                // Itakura-Saito is infinite where v = 0 < y; fitting rejects such data up front.
                for (var i = 0; i < v.Length; i++)
                    sum += v[i] > 0 ? (double)v[i] / y[i] - logRatio[i] - 1 : double.PositiveInfinity;
            }
            return sum;
        }
        for (var i = 0; i < v.Length; i++)
        {
            double vi = v[i], yi = y[i];
            sum += Math.Pow(vi, beta) + (beta - 1) * Math.Pow(yi, beta) - beta * vi * Math.Pow(yi, beta - 1);
        }
        return sum / (beta * (beta - 1));
    }
}
