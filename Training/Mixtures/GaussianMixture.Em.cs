using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Synthesis;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: Fitting by expectation–maximisation: the loop, restarts, and the M-step.
public sealed partial class GaussianMixture
{
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
            if (options.RegCovar == 0) throw new InvalidInputException($"{which}, but the covariance regularisation (--reg-covar, GmmEmOptions.RegCovar) is 0: give it a positive value");
            warnings.Add($"{which}; regCovar ({options.RegCovar:G3}) keeps {(constant.Count == 1 ? "its variance" : "their variances")} positive");
        }

        GmmFitResult? best = null;
        (double[] W, double[] M, double[] C)? bestParameters = null;
        var generator = new SeededRandom(options.Seed);
        for (var restart = 0; restart < options.Restarts; restart++)
        {
            if (!options.WarmStart || restart > 0) InitialiseKMeansPlusPlus(samples, generator, options.RegCovar);
            var responsibilities = UsesCpuKernels ? new double[n * Components] : []; // the TorchSharp steps keep theirs on the device
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
            var final = FinalLogLikelihood(samples, responsibilities);
            if (!double.IsFinite(final)) throw new InvalidInputException($"EM: the log-likelihood is not finite; {RaiseRegCovar}");
            if (best is null || final > best.MeanLogLikelihood)
            {
                best = new GmmFitResult(iteration, converged, final, history, warnings);
                bestParameters = (Weights, Means, Covariances);
            }
        }
        SetParameters(bestParameters!.Value.W, bestParameters.Value.M, bestParameters.Value.C);
        return best!;
    }


    /// <summary>The mean log-likelihood under the current parameters.</summary>
    double FinalLogLikelihood(Samples samples, double[] r)
    {
        if (UsesCpuKernels) return ExpectationStep(samples, r);
        using var _ = TorchSharp.torch.no_grad();
        using var scope = TorchSharp.torch.NewDisposeScope();
        return TorchExpectation(samples).MeanLogLikelihood;
    }

    /// <summary>The M-step from responsibilities r (N, K), on the CPU kernels or as TorchSharp operations.</summary>
    internal void MaximisationStep(Samples samples, double[] r, double reg)
    {
        if (!UsesCpuKernels)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            TorchMaximisation(samples, TorchSharp.torch.tensor(r, [samples.N, Components], device: Device), reg);
            return;
        }
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
}
