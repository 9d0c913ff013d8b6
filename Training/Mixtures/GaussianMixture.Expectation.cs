using Pipeline.Shared.Threading;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The weighted log-densities log wₖ + log N(xₙ | k) and the E-step.
public sealed partial class GaussianMixture
{
    /// <summary>log wₖ + log N(xₙ | k) for every sample and component, (N, K), written into <paramref name="result"/>.</summary>
    internal void WeightedLogProbabilities(Samples samples, double[] result)
    {
        int k = Components, d = Dimensions, n = samples.N;
        var (bias, centredMeans) = Offsets(samples);
        if (Covariance == CovarianceType.Diagonal)
        {
            var products = DiagonalProducts(samples, bias, centredMeans);
            ForRowBlocks(n, (_, first, end) =>
            {
                for (var s = first; s < end; s++)
                    for (var c = 0; c < k; c++) result[s * k + c] = products[s * k + c] + bias[c];
            });
            return;
        }
        if (FullCovarianceKernels.Accelerated && !BlasProducts)
        {
            // −½‖[x 1]·[Pₖ; −μₖPₖ]‖² in register tiles over P's upper triangle (FullCovarianceKernels)
            if (samples.Buffer.Length < n * k) samples.Buffer = new float[n * k];
            var q = samples.Buffer;
            FullCovarianceKernels.QuadraticForms(samples.PaddedCentred, n, FullCovarianceKernels.Padded(d), FullFactors(centredMeans), k, -0.5f, q, k);
            ForRowBlocks(n, (_, first, end) =>
            {
                for (var s = first; s < end; s++)
                    for (var c = 0; c < k; c++) result[s * k + c] = bias[c] + q[s * k + c];
            });
            return;
        }
        // elsewhere: y = [x 1]·[Pₖ; −μₖPₖ] for every component side by side, one GEMM per block of rows (the shift rides
        // in the same product), then −½‖yₖ‖² per sample and component in parallel
        var augmented = samples.Augmented;
        var width = k * d;
        var factors = new float[(d + 1) * width];
        for (var c = 0; c < k; c++)
        {
            var p = precisionFactor.AsSpan(c * d * d, d * d);
            for (var i = 0; i < d; i++)
            {
                double shift = 0;
                for (var j = 0; j < d; j++)
                {
                    factors[j * width + c * d + i] = (float)p[j * d + i];
                    shift += centredMeans[c * d + j] * p[j * d + i];
                }
                factors[d * width + c * d + i] = (float)-shift;
            }
        }
        var y = FullBlockBuffer(samples, width);
        for (var start = 0; start < n; start += FullBlockRows)
        {
            var rows = Math.Min(FullBlockRows, n - start);
            Blas.Gemm(false, false, rows, width, d + 1, 1f, augmented.AsSpan(start * (d + 1), rows * (d + 1)), d + 1, factors, width, 0f, y, width);
            ForRowBlocks(rows, SubBlockRows, (_, first, end) =>
            {
                for (var s = first; s < end; s++)
                    for (var c = 0; c < k; c++)
                        result[(start + s) * k + c] = bias[c] - 0.5 * System.Numerics.Tensors.TensorPrimitives.SumOfSquares(y.AsSpan(s * width + c * d, d));
            });
        }
    }

    // Full mixtures go through the data in blocks of rows whose (rows, K·D) products stay in the last-level cache,
    // and through each block in parallel sub-blocks.
    const int FullBlockRows = 2048, SubBlockRows = 128;

    static float[] FullBlockBuffer(Samples samples, int width)
    {
        var size = Math.Min(samples.N, FullBlockRows) * width;
        if (samples.Buffer.Length < size) samples.Buffer = new float[size];
        return samples.Buffer;
    }

    /// <summary>[Pₖ; −μₖPₖ] per component, (K, dp + 1, dp), zero-padded to whole vectors, for <see cref="FullCovarianceKernels"/>.</summary>
    float[] FullFactors(double[] centredMeans)
    {
        int k = Components, d = Dimensions, dp = FullCovarianceKernels.Padded(d);
        var triangles = new float[k * (dp + 1) * dp];
        for (var c = 0; c < k; c++)
        {
            var p = precisionFactor.AsSpan(c * d * d, d * d);
            var factor = triangles.AsSpan(c * (dp + 1) * dp, (dp + 1) * dp);
            for (var j = 0; j < d; j++)
            {
                double shift = 0;
                for (var i = 0; i <= j; i++)
                {
                    factor[i * dp + j] = (float)p[i * d + j];
                    shift += centredMeans[c * d + i] * p[i * d + j];
                }
                factor[dp * dp + j] = (float)-shift;
            }
        }
        return triangles;
    }


    /// <summary>Per component, log wₖ − ½ log|2πΣₖ| (to which the sample terms add), and the means relative to the samples' centre.</summary>
    (double[] Bias, double[] CentredMeans) Offsets(Samples samples)
    {
        int k = Components, d = Dimensions;
        var bias = new double[k];
        var constant = -0.5 * d * Math.Log(2 * Math.PI);
        for (var c = 0; c < k; c++) bias[c] = constant + logDetFactor[c] + Math.Log(Weights[c]);
        var centredMeans = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++) centredMeans[c * d + j] = Means[c * d + j] - samples.Offset[j];
        return (bias, centredMeans);
    }

    /// <summary>
    /// Diagonal mixtures: the sample terms of log N(xₙ | k), (N, K) in single precision, and the rest added to
    /// <paramref name="bias"/>. −½ Σⱼ (x − μ)² p = x·(μ p) − ½ x²·p − ½ μ²·p: one product of [x, x²] with [μp; −½p].
    /// </summary>
    float[] DiagonalProducts(Samples samples, double[] bias, double[] centredMeans)
    {
        int k = Components, d = Dimensions, n = samples.N;
        if (samples.Buffer.Length < n * k) samples.Buffer = new float[n * k];
        SkinnyProducts.TimesTransposed(samples.Stacked, DiagonalCoefficients(bias, centredMeans), samples.Buffer, n, 2 * d, k);
        return samples.Buffer;
    }

    /// <summary>[μp; −½p] per component, (K, 2D), with −½ Σ μ²p added to <paramref name="bias"/>.</summary>
    float[] DiagonalCoefficients(double[] bias, double[] centredMeans)
    {
        int k = Components, d = Dimensions;
        var coefficients = new float[k * 2 * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++)
            {
                var p = precisionFactor[c * d + j];
                var mp = centredMeans[c * d + j] * p;
                coefficients[c * 2 * d + j] = (float)mp;
                coefficients[c * 2 * d + d + j] = (float)(-0.5 * p);
                bias[c] -= 0.5 * centredMeans[c * d + j] * mp;
            }
        return coefficients;
    }

    /// <summary>Fills <paramref name="r"/> (N, K) with responsibilities and returns the mean log-likelihood.</summary>
    internal double ExpectationStep(Samples samples, double[] r)
    {
        int k = Components, n = samples.N;
        WeightedLogProbabilities(samples, r);
        // log-sum-exp per row, in parallel blocks of rows: shift each row by its maximum (a short scalar loop: K is
        // small), one vectorised exp over the block, then normalise each row
        return MeanOverRowBlocks(n, (first, end) =>
        {
            var rows = end - first;
            var maxima = new double[rows];
            for (var s = 0; s < rows; s++)
            {
                var row = r.AsSpan((first + s) * k, k);
                var max = double.NegativeInfinity;
                foreach (var v in row) max = Math.Max(max, v);
                maxima[s] = max;
                for (var c = 0; c < row.Length; c++) row[c] -= max;
            }
            var values = r.AsSpan(first * k, rows * k);
            System.Numerics.Tensors.TensorPrimitives.Exp(values, values);
            double total = 0;
            for (var s = 0; s < rows; s++)
            {
                var row = values.Slice(s * k, k);
                double sum = 0;
                foreach (var v in row) sum += v;
                total += maxima[s] + Math.Log(sum);
                var inverse = 1 / sum;
                for (var c = 0; c < row.Length; c++) row[c] *= inverse;
            }
            return total;
        });
    }

    // Rows go through the parallel passes in fixed blocks, so sums taken per block and added in block order do not
    // depend on the thread count.
    const int RowBlock = 4096;

    static int RowBlocks(int n) => (n + RowBlock - 1) / RowBlock;

    /// <summary>Runs <paramref name="pass"/>(block, first row, end row) over the row blocks of <paramref name="n"/> rows in parallel.</summary>
    static void ForRowBlocks(int n, Action<int, int, int> pass) => ForRowBlocks(n, RowBlock, pass);

    static void ForRowBlocks(int n, int block, Action<int, int, int> pass) =>
        Parallel.For(0, (n + block - 1) / block, ComputeThreads.Options, b => pass(b, b * block, Math.Min(n, (b + 1) * block)));

    /// <summary>The sum over blocks of what <paramref name="pass"/>(first row, end row) returns, added in block order, divided by <paramref name="n"/>.</summary>
    static double MeanOverRowBlocks(int n, Func<int, int, double> pass)
    {
        var partial = new double[RowBlocks(n)];
        ForRowBlocks(n, (b, first, end) => partial[b] = pass(first, end));
        double all = 0;
        foreach (var part in partial) all += part;
        return all / n;
    }
}
