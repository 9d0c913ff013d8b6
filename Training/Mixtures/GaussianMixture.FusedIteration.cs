using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: One EM iteration as a single pass over the samples (the CPU fast paths of the diagonal and full E- and M-steps).
public sealed partial class GaussianMixture
{
    /// <summary>
    /// One EM iteration, E-step then M-step, returning the mean log-likelihood under the parameters it started from.
    /// <paramref name="r"/> (N, K) is working space for the separate steps.
    /// </summary>
    internal double EmIteration(Samples samples, double[] r, double reg)
    {
        if (!UsesCpuKernels) return TorchIteration(samples, reg);
        if (Covariance == CovarianceType.Diagonal && Components <= Lanes && Vector512.IsHardwareAccelerated)
            return DiagonalIteration(samples, reg);
        if (Covariance == CovarianceType.Full && Components <= Lanes && FullCovarianceKernels.Accelerated && !BlasProducts)
            return FullIteration(samples, reg);
        var meanLogLikelihood = ExpectationStep(samples, r);
        MaximisationStep(samples, r, reg);
        return meanLogLikelihood;
    }

    const int Lanes = 16;

    /// <summary>
    /// Diagonal mixtures of up to 16 components on AVX-512: the E-step and the M-step in one pass over the centred
    /// samples (<see cref="DiagonalKernels"/>). Each block of rows gets its products with [μp; −½p] (one register per
    /// sample), its responsibilities (shift, exp and normalise in that register; absent components have bias −∞)
    /// and its share of rᵀ·[x, x²] while it is still in cache, so the samples are read once and the
    /// responsibilities never leave single precision.
    /// </summary>
    unsafe double DiagonalIteration(Samples samples, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N, width = 2 * d, dp = FullCovarianceKernels.Padded(d);
        var (bias, centredMeans) = Offsets(samples);
        var coefficients = DiagonalCoefficients(bias, centredMeans);
        // (dp, 16) registers of μp, then of −½p, zero in padded dimensions and absent components
        var packed = new float[2 * dp * Lanes];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++)
            {
                packed[j * Lanes + c] = coefficients[c * width + j];
                packed[(dp + j) * Lanes + c] = coefficients[c * width + d + j];
            }
        var biasF = LaneBias(bias);
        var x = samples.PaddedCentred;
        if (samples.Buffer.Length < n * Lanes) samples.Buffer = new float[n * Lanes];
        var rf = samples.Buffer; // products, then responsibilities in place
        var blocks = RowBlocks(n);
        var blockSums = new double[blocks * Lanes * 2 * dp];
        var blockCounts = new double[blocks * Lanes];
        var blockLogLikelihood = new double[blocks];
        ForRowBlocks(n, (b, first, end) =>
        {
            // float sums over 256 rows at a time, then double: Σrx² keeps its digits where it nearly cancels μ²
            var partial = new float[Lanes * 2 * dp];
            var sums = blockSums.AsSpan(b * Lanes * 2 * dp, Lanes * 2 * dp);
            fixed (float* px = x, pp = packed, pr = rf, ps = partial)
                for (var start = first; start < end; start += ResponsibilityRows)
                {
                    var rows = Math.Min(end, start + ResponsibilityRows) - start;
                    DiagonalKernels.Products(px + (long)start * dp, rows, dp, pp, pp + dp * Lanes, pr + (long)start * Lanes);
                    blockLogLikelihood[b] += Responsibilities16(rf, biasF, blockCounts.AsSpan(b * Lanes, Lanes), start, start + rows);
                    Array.Clear(partial);
                    DiagonalKernels.Moments(pr + (long)start * Lanes, px + (long)start * dp, rows, dp, ps);
                    for (var i = 0; i < partial.Length; i++) sums[i] += partial[i];
                }
        });
        // block sums added in block order: the result does not depend on the thread count
        var counts = new double[k];
        var moments = new double[k * width];
        double logLikelihood = 0;
        for (var b = 0; b < blocks; b++)
        {
            logLikelihood += blockLogLikelihood[b];
            for (var c = 0; c < k; c++)
            {
                counts[c] += blockCounts[b * Lanes + c];
                var block = blockSums.AsSpan((b * Lanes + c) * 2 * dp, 2 * dp);
                for (var j = 0; j < d; j++)
                {
                    moments[c * width + j] += block[j];
                    moments[c * width + d + j] += block[dp + j];
                }
            }
        }
        SetDiagonalFromMoments(samples, counts, moments, reg);
        return logLikelihood / n;
    }

    /// <summary>
    /// Full mixtures of up to 16 components on AVX-512: the quadratic forms go straight into a (N, 16) float buffer,
    /// the responsibilities replace them in place, and the M-step reads them there; nothing passes through an (N, K)
    /// double array.
    /// </summary>
    double FullIteration(Samples samples, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N;
        var (bias, centredMeans) = Offsets(samples);
        if (samples.Buffer.Length < n * Lanes) samples.Buffer = new float[n * Lanes];
        var rf = samples.Buffer;
        if (k < Lanes) Array.Clear(rf); // absent components' lanes stay finite; their bias −∞ zeroes them
        FullCovarianceKernels.QuadraticForms(samples.PaddedCentred, n, FullCovarianceKernels.Padded(d), FullFactors(centredMeans), k, -0.5f, rf, Lanes);
        var biasF = LaneBias(bias);
        var blockCounts = new double[RowBlocks(n) * Lanes];
        var logLikelihood = MeanOverRowBlocks(n, (first, end) =>
        {
            double total = 0;
            for (var start = first; start < end; start += ResponsibilityRows)
                total += Responsibilities16(rf, biasF, blockCounts.AsSpan(first / RowBlock * Lanes, Lanes), start, Math.Min(end, start + ResponsibilityRows));
            return total;
        });
        var counts = new double[k];
        for (var i = 0; i < blockCounts.Length; i++)
            if (i % Lanes < k) counts[i % Lanes] += blockCounts[i];
        for (var c = 0; c < k; c++) counts[c] += EmptyComponentCount;
        var sums = new float[Lanes * d];
        SkinnyProducts.TransposeTimes(rf, samples.Centred, sums, n, Lanes, d);
        var newCentredMeans = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++) newCentredMeans[c * d + j] = sums[c * d + j] / counts[c];
        SetFullFromScatter(samples, counts, newCentredMeans, rf, Lanes, reg);
        return logLikelihood;
    }

    /// <summary>The components' biases in one register's 16 lanes, −∞ in the lanes of absent components (their weight is 0).</summary>
    static float[] LaneBias(double[] bias)
    {
        var lanes = new float[Lanes];
        for (var c = 0; c < Lanes; c++) lanes[c] = c < bias.Length ? (float)bias[c] : float.NegativeInfinity;
        return lanes;
    }

    /// <summary>
    /// Responsibilities of rows [first, end) (at most <see cref="ResponsibilityRows"/>) in place over their 16
    /// products: each row is one register, shifted by its maximum, exponentiated, normalised, with weights below 1e-30
    /// flushed to zero (as denormals they would slow the products several-fold, and they change no float sum). Adds
    /// the rows' soft counts to <paramref name="counts"/> and returns the rows' summed log-likelihood,
    /// max + log Σ exp(v − max), in double.
    /// </summary>
    static unsafe double Responsibilities16(float[] products, float[] bias, Span<double> counts, int first, int end)
    {
        var rows = end - first;
        if (rows > ResponsibilityRows) throw new ArgumentOutOfRangeException(nameof(end));
        var sums = stackalloc float[ResponsibilityRows];
        var counts16 = stackalloc float[Lanes];
        double total;
        fixed (float* p = products, pb = bias)
        {
            // the three loops are separate methods without calls inside, so that everything they use stays in registers
            var block = p + (long)first * Lanes;
            total = ShiftByRowMaxima(block, rows, pb);
            var span = new Span<float>(block, rows * Lanes);
            System.Numerics.Tensors.TensorPrimitives.Exp(span, span);
            Normalise(block, rows, sums, counts16);
        }
        var logSums = new Span<float>(sums, rows);
        System.Numerics.Tensors.TensorPrimitives.Log(logSums, logSums);
        foreach (var l in logSums) total += l;
        for (var c = 0; c < Lanes; c++) counts[c] += counts16[c];
        return total;
    }

    // a row's maximum and sum end in every lane after four exchange steps (halves, quarters, ...)
    static Vector512<int> Swap8 => Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    static Vector512<int> Swap4 => Vector512.Create(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    static Vector512<int> Swap2 => Vector512.Create(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    static Vector512<int> Swap1 => Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);

    /// <summary>
    /// Rows v + bias become max(v + bias − max, −87); returns the sum of the maxima. The floor keeps exp's results
    /// normal floats (e⁻⁸⁷ ≈ 1.6e-38): a denormal costs a microcode assist of about a hundred cycles in every
    /// instruction that makes or reads it, and rows far from a component are the common case. vmaxps, not
    /// Vector512.Max, whose NaN and −0 rules cost three instructions (no NaN reaches here).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization | System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static unsafe double ShiftByRowMaxima(float* row, int rows, float* bias)
    {
        Vector512<int> swap8 = Swap8, swap4 = Swap4, swap2 = Swap2, swap1 = Swap1;
        var biasV = Vector512.Load(bias);
        var floor = Vector512.Create(-87f);
        double maxima = 0;
        for (var s = 0; s < rows; s++, row += Lanes)
        {
            var v = Vector512.Load(row) + biasV;
            var max = Avx512F.Max(v, Avx512F.PermuteVar16x32(v, swap8));
            max = Avx512F.Max(max, Avx512F.PermuteVar16x32(max, swap4));
            max = Avx512F.Max(max, Avx512F.PermuteVar16x32(max, swap2));
            max = Avx512F.Max(max, Avx512F.PermuteVar16x32(max, swap1));
            Avx512F.Max(v - max, floor).Store(row);
            maxima += max.ToScalar();
        }
        return maxima;
    }

    /// <summary>
    /// Rows e become e / Σe, with e below 1e-30 flushed to zero first (so no quotient is a denormal); the row sums go
    /// to <paramref name="sums"/>, the rows themselves are added to <paramref name="counts"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization | System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static unsafe void Normalise(float* row, int rows, float* sums, float* counts)
    {
        Vector512<int> swap8 = Swap8, swap4 = Swap4, swap2 = Swap2, swap1 = Swap1;
        var tiny = Vector512.Create(1e-30f);
        var counts16 = Vector512<float>.Zero;
        for (var s = 0; s < rows; s++, row += Lanes)
        {
            var e = Vector512.Load(row);
            var sum = e + Avx512F.PermuteVar16x32(e, swap8);
            sum += Avx512F.PermuteVar16x32(sum, swap4);
            sum += Avx512F.PermuteVar16x32(sum, swap2);
            sum += Avx512F.PermuteVar16x32(sum, swap1);
            var r = Vector512.ConditionalSelect(Vector512.LessThan(e, tiny), Vector512<float>.Zero, e) * Vector512.Create(1 / sum.ToScalar());
            counts16 += r;
            r.Store(row);
            sums[s] = sum.ToScalar();
        }
        counts16.Store(counts);
    }

    /// <summary>The most rows one <see cref="Responsibilities16"/> call takes (its row sums live on the stack).</summary>
    const int ResponsibilityRows = 256;
}
