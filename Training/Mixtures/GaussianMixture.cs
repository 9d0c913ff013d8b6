using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Linalg;
using Pipeline.Training.Synthesis;

namespace Pipeline.Training.Mixtures;

/// <summary>Shape of each component's covariance.</summary>
public enum CovarianceType
{
    /// <summary>Independent dimensions: one variance per dimension and component.</summary>
    Diagonal,
    /// <summary>A full D × D covariance per component.</summary>
    Full,
}

/// <summary>EM settings, with scikit-learn's names and defaults.</summary>
public sealed record GmmEmOptions
{
    /// <summary>Stop when the mean log-likelihood changes by less than this between iterations.</summary>
    public double Tolerance { get; init; } = 1e-3;
    /// <summary>Iteration limit per restart.</summary>
    public int MaxIterations { get; init; } = 100;
    /// <summary>Added to every covariance's diagonal: keeps a constant dimension finite.</summary>
    public double RegCovar { get; init; } = 1e-6;
    /// <summary>Restarts from different k-means++ seeds; the best mean log-likelihood wins.</summary>
    public int Restarts { get; init; } = 1;
    /// <summary>Seed of the initialisation.</summary>
    public long Seed { get; init; }
    /// <summary>Start from the current parameters instead of k-means++ (scikit-learn's means_init and friends).</summary>
    public bool WarmStart { get; init; }
}

/// <summary>One step of fitting.</summary>
public sealed record GmmProgress(int Step, double MeanLogLikelihood);

/// <summary>How a fit ended.</summary>
public sealed record GmmFitResult(int Iterations, bool Converged, double MeanLogLikelihood, IReadOnlyList<double> History, IReadOnlyList<string> Warnings);

/// <summary>
/// A Gaussian mixture p(x) = Σₖ wₖ N(x | μₖ, Σₖ) over D dimensions, as scikit-learn's <c>GaussianMixture</c>:
/// fitted by EM (<see cref="FitEm"/>) or by gradient ascent on the log-likelihood (<see cref="MixtureGradientFit"/>).
/// Likelihoods use the precision Cholesky factor (full) or inverse variances (diagonal) with log-sum-exp over
/// components, in double precision with BLAS for the N × D × K products. Data: (N, D) rows are samples.
/// </summary>
public sealed class GaussianMixture
{
    /// <summary>K.</summary>
    public int Components { get; }
    /// <summary>D (0 until fitted or set).</summary>
    public int Dimensions { get; private set; }
    /// <summary>Diagonal or full.</summary>
    public CovarianceType Covariance { get; }
    /// <summary>Mixing weights, (K).</summary>
    public double[] Weights { get; private set; } = [];
    /// <summary>Means, (K, D) row-major.</summary>
    public double[] Means { get; private set; } = [];
    /// <summary>Covariances: (K, D) variances when diagonal, (K, D, D) when full.</summary>
    public double[] Covariances { get; private set; } = [];

    // Diagonal: inverse variances (K, D). Full: upper-triangular P with Σ⁻¹ = P·Pᵀ, (K, D, D).
    double[] precisionFactor = [];
    double[] logDetFactor = []; // log det P (full) or ½ Σ log precision (diagonal), per component

    /// <summary>Full covariance: take the BLAS products even where the AVX-512 kernels apply (tests compare the two).</summary>
    internal bool BlasProducts { get; set; }

    /// <summary>An unfitted mixture of <paramref name="components"/> components.</summary>
    public GaussianMixture(int components, CovarianceType covariance = CovarianceType.Full)
    {
        if (components < 1) throw new InvalidOptionException($"a mixture needs at least one component, got {components}");
        Components = components;
        Covariance = covariance;
    }

    /// <summary>A mixture with the given parameters (shapes as the properties document).</summary>
    public static GaussianMixture FromParameters(double[] weights, double[] means, double[] covariances, int dimensions, CovarianceType covariance)
    {
        var k = weights.Length;
        var expected = covariance == CovarianceType.Full ? k * dimensions * dimensions : k * dimensions;
        if (means.Length != k * dimensions || covariances.Length != expected)
            throw new InvalidInputException($"mixture parameters do not fit K = {k}, D = {dimensions}: {means.Length} means, {covariances.Length} covariance values");
        var gmm = new GaussianMixture(k, covariance) { Dimensions = dimensions };
        gmm.SetParameters((double[])weights.Clone(), (double[])means.Clone(), (double[])covariances.Clone());
        return gmm;
    }

    /// <summary>An independent copy of the current parameters (for convergence pictures).</summary>
    public GaussianMixture Clone() => FromParameters(Weights, Means, Covariances, Dimensions, Covariance);

    /// <summary>Number of free parameters (for BIC/AIC).</summary>
    public int ParameterCount
    {
        get
        {
            var d = Dimensions;
            var covariance = Covariance == CovarianceType.Full ? Components * d * (d + 1) / 2 : Components * d;
            return covariance + Components * d + Components - 1;
        }
    }

    internal void SetParameters(double[] weights, double[] means, double[] covariances)
    {
        (Weights, Means, Covariances) = (weights, means, covariances);
        int k = Components, d = Dimensions;
        logDetFactor = new double[k];
        if (Covariance == CovarianceType.Diagonal)
        {
            precisionFactor = new double[k * d];
            for (var c = 0; c < k; c++)
            {
                double sum = 0;
                for (var j = 0; j < d; j++)
                {
                    var v = covariances[c * d + j];
                    if (!(v > 0)) throw new InvalidInputException($"component {c} has a non-positive variance in dimension {j}; raise regCovar");
                    precisionFactor[c * d + j] = 1 / v;
                    sum -= Math.Log(v);
                }
                logDetFactor[c] = 0.5 * sum;
            }
            return;
        }
        precisionFactor = new double[k * d * d];
        for (var c = 0; c < k; c++)
        {
            var l = Cholesky(covariances.AsSpan(c * d * d, d * d), d, c);
            // P = (L⁻¹)ᵀ, upper triangular; log det P = −Σ log Lᵢᵢ
            var inverse = InvertLower(l, d);
            double logDet = 0;
            for (var i = 0; i < d; i++)
            {
                logDet -= Math.Log(l[i * d + i]);
                for (var j = 0; j < d; j++) precisionFactor[c * d * d + j * d + i] = inverse[i * d + j];
            }
            logDetFactor[c] = logDet;
        }
    }

    /// <summary>
    /// The samples as EM uses them: in double precision for the k-means++ start, and centred on their mean in
    /// float32 for the BLAS products (centring keeps float32's digits where x² and μ² would otherwise cancel;
    /// single-precision GEMM runs at twice the rate and moves half the bytes).
    /// </summary>
    internal sealed class Samples
    {
        public Samples(double[] x, int n, int d)
        {
            (X, N, D) = (x, n, d);
            Offset = new double[d];
            for (var s = 0; s < n; s++)
                for (var j = 0; j < d; j++) Offset[j] += x[s * d + j];
            for (var j = 0; j < d; j++) Offset[j] /= n;
            Centred = new float[n * d];
            for (var s = 0; s < n; s++)
                for (var j = 0; j < d; j++) Centred[s * d + j] = (float)(x[s * d + j] - Offset[j]);
        }

        public double[] X { get; }
        public int N { get; }
        public int D { get; }
        /// <summary>The column means the float copy is centred on.</summary>
        public double[] Offset { get; }
        /// <summary>x − offset, float32, (N, D).</summary>
        public float[] Centred { get; }
        float[]? stacked;
        /// <summary>
        /// [x − offset, (x − offset)²], (N, 2D), computed once for the separate diagonal E- and M-steps (the fused
        /// iteration makes x² in registers): both halves then go through one product each, which BLAS runs faster
        /// than two of half the width.
        /// </summary>
        public float[] Stacked
        {
            get
            {
                if (stacked is null)
                {
                    stacked = new float[N * 2 * D];
                    Parallel.For(0, N, ComputeThreads.Options, s =>
                    {
                        var x = Centred.AsSpan(s * D, D);
                        x.CopyTo(stacked.AsSpan(s * 2 * D, D));
                        System.Numerics.Tensors.TensorPrimitives.Multiply(x, x, stacked.AsSpan(s * 2 * D + D, D));
                    });
                }
                return stacked;
            }
        }
        float[]? padded;
        /// <summary>x − offset with zero columns up to a multiple of 16, (N, dp) (the AVX-512 kernels, diagonal and full).</summary>
        public float[] PaddedCentred
        {
            get
            {
                var dp = FullCovarianceKernels.Padded(D);
                if (dp == D) return Centred;
                if (padded is null)
                {
                    padded = new float[N * dp];
                    for (var s = 0; s < N; s++) Centred.AsSpan(s * D, D).CopyTo(padded.AsSpan(s * dp, D));
                }
                return padded;
            }
        }
        float[]? augmented;
        /// <summary>[x − offset, 1], (N, D + 1) (full mixtures without AVX-512), computed once.</summary>
        public float[] Augmented
        {
            get
            {
                if (augmented is null)
                {
                    augmented = new float[N * (D + 1)];
                    for (var s = 0; s < N; s++)
                    {
                        Centred.AsSpan(s * D, D).CopyTo(augmented.AsSpan(s * (D + 1), D));
                        augmented[s * (D + 1) + D] = 1;
                    }
                }
                return augmented;
            }
        }
        /// <summary>Reused (N, K) single-precision buffers: GEMM products, responsibilities.</summary>
        public float[] Buffer = [];
        public float[] Responsibilities = [];
    }

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

    /// <summary>log p(x) of every sample.</summary>
    public double[] ScoreSamples(NdArray data)
    {
        var samples = Prepare(data, requireFitted: true);
        var n = samples.N;
        var weighted = new double[n * Components];
        WeightedLogProbabilities(samples, weighted);
        var result = new double[n];
        for (var s = 0; s < n; s++) result[s] = LogSumExp(weighted.AsSpan(s * Components, Components));
        return result;
    }

    /// <summary>Mean log-likelihood per sample.</summary>
    public double Score(NdArray data) => ScoreSamples(data).Average();

    /// <summary>Posterior probability of each component for each sample, (N, K).</summary>
    public NdArray Responsibilities(NdArray data)
    {
        var samples = Prepare(data, requireFitted: true);
        var n = samples.N;
        var weighted = new double[n * Components];
        WeightedLogProbabilities(samples, weighted);
        var result = new float[n * Components];
        for (var s = 0; s < n; s++)
        {
            var row = weighted.AsSpan(s * Components, Components);
            var lse = LogSumExp(row);
            for (var c = 0; c < Components; c++) result[s * Components + c] = (float)Math.Exp(row[c] - lse);
        }
        return new NdArray([n, Components], result);
    }

    /// <summary>Bayesian information criterion: −2 log L + p ln N (lower is better).</summary>
    public double Bic(NdArray data) => -2 * ScoreSamples(data).Sum() + ParameterCount * Math.Log(data.Shape[0]);

    /// <summary>Akaike information criterion: −2 log L + 2p.</summary>
    public double Aic(NdArray data) => -2 * ScoreSamples(data).Sum() + 2 * ParameterCount;

    /// <summary>
    /// Fits by expectation–maximisation from k-means++ starts (or the current parameters with
    /// <see cref="GmmEmOptions.WarmStart"/>), as scikit-learn does: iterate until the mean log-likelihood moves by
    /// less than the tolerance; with several restarts keep the best. <paramref name="snapshot"/> sees the
    /// mixture after every iteration (for convergence pictures).
    /// </summary>
    public GmmFitResult FitEm(NdArray data, GmmEmOptions? options = null, IProgress<GmmProgress>? progress = null, Action<GaussianMixture, int>? snapshot = null)
    {
        options ??= new GmmEmOptions();
        if (options.MaxIterations < 1 || options.Restarts < 1 || !(options.RegCovar >= 0) || !(options.Tolerance >= 0))
            throw new InvalidOptionException("EM: iterations and restarts must be ≥ 1, regCovar and tolerance ≥ 0");
        if (options.WarmStart && Weights.Length == 0) throw new InvalidOptionException("EM: a warm start needs parameters to start from");
        var samples = Prepare(data, requireFitted: options.WarmStart);
        var (x, n) = (samples.X, samples.N);
        if (n < Components) throw new InvalidOptionException($"{Components} components need at least as many samples, got {n}");
        var constant = new List<int>();
        for (var j = 0; j < Dimensions; j++)
        {
            double mean = 0, square = 0;
            for (var s = 0; s < n; s++) { mean += x[s * Dimensions + j]; square += x[s * Dimensions + j] * x[s * Dimensions + j]; }
            if (square / n - Math.Pow(mean / n, 2) <= 1e-12 * Math.Max(1, square / n)) constant.Add(j);
        }
        var warnings = new List<string>();
        if (constant.Count > 0)
        {
            var which = $"{(constant.Count == 1 ? "dimension" : "dimensions")} {IndexRanges.Format(constant)} of {Dimensions} {(constant.Count == 1 ? "is" : "are")} constant";
            if (options.RegCovar == 0) throw new InvalidInputException($"{which}, but regCovar is 0");
            warnings.Add($"{which}; regCovar ({options.RegCovar:G3}) keeps {(constant.Count == 1 ? "its variance" : "their variances")} positive");
        }

        GmmFitResult? best = null;
        (double[] W, double[] M, double[] C)? bestParameters = null;
        var generator = new SeededRandom(options.Seed);
        for (var restart = 0; restart < options.Restarts; restart++)
        {
            if (!options.WarmStart || restart > 0) InitialiseKMeansPlusPlus(samples, generator, options.RegCovar);
            var responsibilities = new double[n * Components];
            var history = new List<double>();
            var previous = double.NegativeInfinity;
            var converged = false;
            var iteration = 0;
            while (iteration < options.MaxIterations)
            {
                iteration++;
                var meanLogLikelihood = EmIteration(samples, responsibilities, options.RegCovar);
                history.Add(meanLogLikelihood);
                progress?.Report(new GmmProgress(iteration, meanLogLikelihood));
                snapshot?.Invoke(this, iteration);
                if (Math.Abs(meanLogLikelihood - previous) < options.Tolerance) { converged = true; break; }
                previous = meanLogLikelihood;
            }
            var final = ExpectationStep(samples, responsibilities);
            if (!double.IsFinite(final)) throw new InvalidInputException("EM: the log-likelihood is not finite; raise regCovar");
            if (best is null || final > best.MeanLogLikelihood)
            {
                best = new GmmFitResult(iteration, converged, final, history, warnings);
                bestParameters = (Weights, Means, Covariances);
            }
        }
        SetParameters(bestParameters!.Value.W, bestParameters.Value.M, bestParameters.Value.C);
        return best!;
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

    /// <summary>
    /// One EM iteration, E-step then M-step, returning the mean log-likelihood under the parameters it started from.
    /// <paramref name="r"/> (N, K) is working space for the separate steps.
    /// </summary>
    internal double EmIteration(Samples samples, double[] r, double reg)
    {
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

    internal void MaximisationStep(Samples samples, double[] r, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N;
        // one pass, in parallel blocks: the float copy of r for the products (denormals flushed) and the soft counts
        // Nₖ (block sums added in block order, so the result does not depend on the thread count)
        if (samples.Responsibilities.Length < n * k) samples.Responsibilities = new float[n * k];
        var rf = samples.Responsibilities;
        var blockCounts = new double[RowBlocks(n) * k];
        ForRowBlocks(n, (b, first, end) =>
        {
            var local = blockCounts.AsSpan(b * k, k);
            for (var s = first; s < end; s++)
                for (var c = 0; c < k; c++)
                {
                    var v = r[s * k + c];
                    local[c] += v;
                    // below float's normal range the copy becomes a denormal, which slows the products several-fold;
                    // such a weight (< 1e-30) changes no sum in float precision, so it is flushed to zero
                    rf[s * k + c] = v < 1e-30 ? 0f : (float)v;
                }
        });
        var counts = new double[k];
        for (var i = 0; i < blockCounts.Length; i++) counts[i % k] += blockCounts[i];
        // rᵀ·X, (K, D): the long dimension N is the shared one; diagonal mixtures get rᵀ·[X, X²] in the same product
        var diagonal = Covariance == CovarianceType.Diagonal;
        var width = diagonal ? 2 * d : d;
        var sums = new float[k * width];
        SkinnyProducts.TransposeTimes(rf, diagonal ? samples.Stacked : samples.Centred, sums, n, k, width);
        if (diagonal)
        {
            SetDiagonalFromMoments(samples, counts, Array.ConvertAll(sums, v => (double)v), reg);
            return;
        }
        for (var c = 0; c < k; c++) counts[c] += EmptyComponentCount;
        var centredMeans = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++) centredMeans[c * d + j] = sums[c * width + j] / counts[c];
        SetFullFromScatter(samples, counts, centredMeans, rf, k, reg);
    }

    /// <summary>
    /// The full M-step's covariances, Σₖ = Σₙ rₙₖ (xₙ − μₖ)(xₙ − μₖ)ᵀ / Nₖ + regCovar·I, from the single-precision
    /// responsibilities (N, ldr), the soft counts and the new means (relative to the samples' centre); then the
    /// parameters. The upper triangles are computed, then mirrored.
    /// </summary>
    void SetFullFromScatter(Samples samples, double[] counts, double[] centredMeans, float[] rf, int ldr, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N;
        var covariances = new double[k * d * d];
        if (FullCovarianceKernels.Accelerated && !BlasProducts)
        {
            var dp = FullCovarianceKernels.Padded(d);
            var paddedMeans = new float[k * dp];
            for (var c = 0; c < k; c++)
                for (var j = 0; j < d; j++) paddedMeans[c * dp + j] = (float)centredMeans[c * d + j];
            FullCovarianceKernels.Scatter(samples.PaddedCentred, rf, ldr, n, d, dp, paddedMeans, k, covariances);
        }
        else
        {
            // per block of rows, z = √rₙₖ (xₙ − μₖ) for every component side by side (built in parallel), then
            // one symmetric product per component
            var z = FullBlockBuffer(samples, k * d);
            var partial = new float[d * d];
            var meansF = new float[k * d];
            for (var i = 0; i < meansF.Length; i++) meansF[i] = (float)centredMeans[i];
            for (var start = 0; start < n; start += FullBlockRows)
            {
                var rows = Math.Min(FullBlockRows, n - start);
                ForRowBlocks(rows, SubBlockRows, (_, first, end) =>
                {
                    for (var s = first; s < end; s++)
                    {
                        var x = samples.Centred.AsSpan((start + s) * d, d);
                        for (var c = 0; c < k; c++)
                        {
                            var row = z.AsSpan(s * k * d + c * d, d);
                            System.Numerics.Tensors.TensorPrimitives.Subtract(x, meansF.AsSpan(c * d, d), row);
                            System.Numerics.Tensors.TensorPrimitives.Multiply(row, MathF.Sqrt(rf[(start + s) * ldr + c]), row);
                        }
                    }
                });
                for (var c = 0; c < k; c++)
                {
                    Blas.SyrkTransposed(d, rows, 1f, z.AsSpan(c * d), k * d, 0f, partial, d);
                    var cov = covariances.AsSpan(c * d * d, d * d);
                    for (var i = 0; i < d; i++)
                        for (var j = i; j < d; j++) cov[i * d + j] += partial[i * d + j];
                }
            }
        }
        for (var c = 0; c < k; c++)
        {
            var cov = covariances.AsSpan(c * d * d, d * d);
            for (var i = 0; i < d; i++)
                for (var j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i];
        }
        for (var c = 0; c < k; c++)
        {
            var cov = covariances.AsSpan(c * d * d, d * d);
            System.Numerics.Tensors.TensorPrimitives.Multiply(cov, 1.0 / counts[c], cov);
            for (var j = 0; j < d; j++) cov[j * d + j] += reg;
        }
        SetFromMoments(samples, counts, centredMeans, covariances);
    }

    // as scikit-learn: a component whose responsibilities all vanished keeps a finite mean
    const double EmptyComponentCount = 10 * 2.220446049250313e-16;

    /// <summary>
    /// The diagonal M-step's parameters from the soft counts Nₖ and the sums rᵀ·[x, x²], (K, 2D), of the centred
    /// samples: μ = Σrx/N, σ² = Σrx²/N − μ² (clamped at 0) + regCovar.
    /// </summary>
    void SetDiagonalFromMoments(Samples samples, double[] counts, double[] sums, double reg)
    {
        int k = Components, d = Dimensions, width = 2 * d;
        for (var c = 0; c < k; c++) counts[c] += EmptyComponentCount;
        var centredMeans = new double[k * d];
        var variances = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++)
            {
                var mean = centredMeans[c * d + j] = sums[c * width + j] / counts[c];
                variances[c * d + j] = Math.Max(sums[c * width + d + j] / counts[c] - mean * mean, 0) + reg;
            }
        SetFromMoments(samples, counts, centredMeans, variances);
    }

    /// <summary>Weights from the soft counts, means moved back from the samples' centre, and the covariances.</summary>
    void SetFromMoments(Samples samples, double[] counts, double[] centredMeans, double[] covariances)
    {
        int k = Components, d = Dimensions;
        var means = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++) means[c * d + j] = centredMeans[c * d + j] + samples.Offset[j];
        var weights = new double[k];
        for (var c = 0; c < k; c++) weights[c] = counts[c] / samples.N;
        SetParameters(weights, means, covariances);
    }

    /// <summary>k-means++ centres, then hard assignments to the nearest centre and one M-step (scikit-learn's init_params="k-means++").</summary>
    void InitialiseKMeansPlusPlus(Samples samples, SeededRandom generator, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N;
        var x = samples.X;
        var centres = new int[k];
        var nearest = new double[n];
        centres[0] = generator.NextInt(n);
        for (var s = 0; s < n; s++) nearest[s] = Distance(x, s, centres[0], d);
        for (var c = 1; c < k; c++)
        {
            var total = nearest.Sum();
            var pick = generator.NextDouble() * total;
            var chosen = n - 1;
            for (var s = 0; s < n; s++) { pick -= nearest[s]; if (pick <= 0) { chosen = s; break; } }
            centres[c] = chosen;
            for (var s = 0; s < n; s++) nearest[s] = Math.Min(nearest[s], Distance(x, s, chosen, d));
        }
        var r = new double[n * k];
        for (var s = 0; s < n; s++)
        {
            var best = 0;
            var bestDistance = double.PositiveInfinity;
            for (var c = 0; c < k; c++)
            {
                var distance = Distance(x, s, centres[c], d);
                if (distance < bestDistance) (best, bestDistance) = (c, distance);
            }
            r[s * k + best] = 1;
        }
        MaximisationStep(samples, r, reg);
    }

    static double Distance(double[] x, int a, int b, int d)
    {
        double sum = 0;
        for (var j = 0; j < d; j++) { var v = x[a * d + j] - x[b * d + j]; sum += v * v; }
        return sum;
    }

    internal Samples Prepare(NdArray data, bool requireFitted)
    {
        if (data.Shape.Length is < 1 or > 2) throw new InvalidInputException($"mixture data must be (N, D) or (N), got {data.ShapeText}");
        var n = data.Shape[0];
        var d = data.Shape.Length == 2 ? data.Shape[1] : 1;
        if (n == 0 || d == 0) throw new InvalidInputException($"mixture data of shape {data.ShapeText} is empty");
        data.RequireFinite("mixture data");
        if (requireFitted && Weights.Length == 0) throw new InvalidOperationException("the mixture has no parameters yet; fit it first");
        if (Dimensions == 0) Dimensions = d;
        else if (Dimensions != d) throw new InvalidInputException($"data has {d} dimensions, the mixture {Dimensions}");
        var x = new double[data.Data.Length];
        for (var i = 0; i < x.Length; i++) x[i] = data.Data[i];
        return new Samples(x, n, d);
    }

    internal static double LogSumExp(ReadOnlySpan<double> values)
    {
        var max = double.NegativeInfinity;
        foreach (var v in values) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (var v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>The precision factors P (upper triangular, Σ⁻¹ = P·Pᵀ), (K, D, D); full covariance only.</summary>
    internal double[] PrecisionFactors() => Covariance == CovarianceType.Full
        ? (double[])precisionFactor.Clone()
        : throw new InvalidOperationException("precision factors are kept for full covariances only");

    /// <summary>Σ = (P·Pᵀ)⁻¹ for an upper-triangular P with a positive diagonal.</summary>
    internal static double[] CovarianceFromPrecisionFactor(double[] p, int d)
    {
        // P⁻¹ is upper triangular too; Σ = (P⁻¹)ᵀ·P⁻¹
        var lower = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++) lower[i * d + j] = p[j * d + i]; // Pᵀ, lower triangular
        var inverseLower = InvertLower(lower, d); // (Pᵀ)⁻¹ = (P⁻¹)ᵀ
        var sigma = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++)
            {
                double sum = 0;
                for (var k = 0; k < d; k++) sum += inverseLower[i * d + k] * inverseLower[j * d + k];
                sigma[i * d + j] = sum;
            }
        return sigma;
    }

    static double[] Cholesky(ReadOnlySpan<double> a, int d, int component)
    {
        var l = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i * d + j];
                for (var k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
                if (i == j)
                {
                    if (!(sum > 0)) throw new InvalidInputException($"component {component}'s covariance is not positive definite; raise regCovar");
                    l[i * d + i] = Math.Sqrt(sum);
                }
                else l[i * d + j] = sum / l[j * d + j];
            }
        return l;
    }

    static double[] InvertLower(double[] l, int d)
    {
        var inverse = new double[d * d];
        for (var col = 0; col < d; col++)
        {
            inverse[col * d + col] = 1 / l[col * d + col];
            for (var i = col + 1; i < d; i++)
            {
                double sum = 0;
                for (var k = col; k < i; k++) sum -= l[i * d + k] * inverse[k * d + col];
                inverse[i * d + col] = sum / l[i * d + i];
            }
        }
        return inverse;
    }
}
