using Pipeline.Shared.Threading;
using System.Numerics.Tensors;

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
    public static double Compute(ReadOnlySpan<float> target, ReadOnlySpan<float> estimate, double beta, float epsilon = DefaultEpsilon)
    {
        if (target.Length != estimate.Length)
            throw new ArgumentException($"target has {target.Length} entries, estimate {estimate.Length}");
        var v = target.ToArray();
        var y = estimate.ToArray();
        return Compute(v, y, v.Length, beta, epsilon);
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

    /// <summary>Array form used on hot paths: chunks run in parallel, partial sums are added in chunk order.</summary>
    internal static double Compute(float[] v, float[] y, int length, double beta, float epsilon)
    {
        var chunks = (length + Chunk - 1) / Chunk;
        var partial = new double[chunks];
        Parallel.For(0, chunks, ComputeThreads.Options, c =>
        {
            var start = c * Chunk;
            var count = Math.Min(Chunk, length - start);
            partial[c] = ChunkSum(v.AsSpan(start, count), y.AsSpan(start, count), beta, epsilon);
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
