using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Mixtures;

/// <summary>Gradient-fitting settings.</summary>
public sealed record GmmGradientOptions
{
    /// <summary>Optimiser step size.</summary>
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Full-batch steps.</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Plain SGD instead of Adam.</summary>
    public bool Sgd { get; init; }
    /// <summary>Seed of the k-means++ start.</summary>
    public long Seed { get; init; }
    /// <summary>
    /// Floor of every variance (the diagonal of each covariance), held after every step by projection, as EM's
    /// <see cref="GmmEmOptions.RegCovar"/> holds it: a constant dimension cannot drive its variance, and the
    /// likelihood, to infinity.
    /// </summary>
    public double RegCovar { get; init; } = 1e-6;
    /// <summary>Stop once the mean log-likelihood moves less than this over <see cref="MixtureGradientFit.ToleranceWindow"/> steps (0: run every step).</summary>
    public double Tolerance { get; init; }
}

/// <summary>
/// A 1-D mixture fitted by gradient descent on its likelihood, done stably: maximise the mean log-likelihood by gradient steps on unconstrained
/// parameters, the autodiff engine supplying the gradients. Weights are softmax(logits), so they stay positive and
/// sum to one without a penalty; each component's precision Cholesky factor P (Σ⁻¹ = P·Pᵀ) is upper triangular with
/// a positive diagonal, exp(a) (diagonal mixtures: P = diag(exp(−log σ))); the likelihood is a log-sum-exp over
/// components, so no density underflows. Starts from the same k-means++ initialisation as EM.
/// </summary>
public static class MixtureGradientFit
{
    /// <summary>Steps over which the change of the log-likelihood is compared with the tolerance (single Adam steps oscillate).</summary>
    public const int ToleranceWindow = 10;

    /// <summary>Fits <paramref name="mixture"/> to <paramref name="data"/> (N, D).</summary>
    public static GmmFitResult Fit(GaussianMixture mixture, NdArray data, GmmGradientOptions? options = null,
        IProgress<GmmProgress>? progress = null, Action<GaussianMixture, int>? snapshot = null)
    {
        options ??= new GmmGradientOptions();
        if (options.Steps < 1 || !(options.LearningRate > 0)) throw new InvalidOptionException("gradient fit: steps must be ≥ 1 and the learning rate positive");
        if (!(options.RegCovar >= 0) || !(options.Tolerance >= 0)) throw new InvalidOptionException($"gradient fit: reg-covar and the tolerance must be ≥ 0 (got {options.RegCovar}, {options.Tolerance})");
        // the k-means++ start (one EM iteration's worth of work) gives sensible initial parameters
        var start = mixture.FitEm(data, new GmmEmOptions { MaxIterations = 1, Seed = options.Seed, RegCovar = options.RegCovar });
        int k = mixture.Components, d = mixture.Dimensions;
        var full = mixture.Covariance == CovarianceType.Full;
        var x = Tensor.FromArray((float[])data.Data.Clone(), data.Shape[0], d);

        var logits = new Parameter(Tensor.FromArray(mixture.Weights.Select(w => (float)Math.Log(w)).ToArray(), k));
        var means = new Parameter(Tensor.FromArray(mixture.Means.Select(m => (float)m).ToArray(), k, d));
        Parameter shape;
        if (full)
        {
            // a = P with its diagonal replaced by log Pᵢᵢ
            var raw = new float[k * d * d];
            var factors = mixture.PrecisionFactors();
            for (var c = 0; c < k; c++)
                for (var i = 0; i < d; i++)
                    for (var j = i; j < d; j++)
                    {
                        var v = factors[c * d * d + i * d + j];
                        raw[c * d * d + i * d + j] = (float)(i == j ? Math.Log(v) : v);
                    }
            shape = new Parameter(Tensor.FromArray(raw, k, d, d));
        }
        else shape = new Parameter(Tensor.FromArray(mixture.Covariances.Select(v => (float)(0.5 * Math.Log(v))).ToArray(), k, d)); // log σ

        Optimizer optimizer = options.Sgd
            ? new Sgd([logits, means, shape], options.LearningRate)
            : new Adam([logits, means, shape], options.LearningRate);
        var eye = Tensor.Zeros(d, d);
        var upper = Tensor.Zeros(d, d);
        for (var i = 0; i < d; i++) { eye[i, i] = 1; for (var j = i + 1; j < d; j++) upper[i, j] = 1; }
        var constant = (float)(-0.5 * d * Math.Log(2 * Math.PI));

        Tensor NegativeMeanLogLikelihood()
        {
            var logWeights = logits - logits.LogSumExp(0, keepDim: true);
            var columns = new List<Tensor>(k);
            for (var c = 0; c < k; c++)
            {
                var diff = x - means.Slice(0, c, 1);
                Tensor y, logDet;
                if (full)
                {
                    var a = shape.Slice(0, c, 1).Reshape(d, d);
                    var diagonal = (a * eye).Sum(0);
                    var p = a * upper + eye * diagonal.Exp();
                    y = diff.MatMul(p);
                    logDet = diagonal.Sum();
                }
                else
                {
                    var logStd = shape.Slice(0, c, 1);
                    y = diff * (-logStd).Exp();
                    logDet = -logStd.Sum();
                }
                columns.Add(y.Square().Sum(1, keepDim: true) * -0.5f + (logDet + logWeights.Slice(0, c, 1).Reshape()) + constant);
            }
            return -Tensor.Concat(columns, 1).LogSumExp(1).Mean();
        }

        var history = new List<double>();
        var converged = false;
        var steps = 0;
        var logFloor = options.RegCovar > 0 ? (float)(0.5 * Math.Log(options.RegCovar)) : float.NegativeInfinity;
        for (var step = 1; step <= options.Steps && !converged; step++)
        {
            optimizer.ZeroGrad();
            var loss = NegativeMeanLogLikelihood();
            var value = -loss.Item();
            if (!double.IsFinite(value)) throw new InvalidInputException($"gradient fit: the log-likelihood became {value} at step {step}; lower the learning rate");
            loss.Backward();
            optimizer.Step();
            Project();
            history.Add(value);
            steps = step;
            progress?.Report(new GmmProgress(step, value));
            if (snapshot is not null) { Store(); snapshot(mixture, step); }
            converged = options.Tolerance > 0 && history.Count > ToleranceWindow && Math.Abs(value - history[^(ToleranceWindow + 1)]) < options.Tolerance;
        }
        Store();
        var final = mixture.Score(data);
        if (!double.IsFinite(final) || mixture.Covariances.Any(v => !double.IsFinite(v)) || mixture.Means.Any(v => !double.IsFinite(v)))
            throw new InvalidInputException($"gradient fit: the fitted mixture is not finite (mean log-likelihood {final}); lower the learning rate or raise --reg-covar");
        return new GmmFitResult(steps, converged, final, history, start.Warnings);

        // variances back up to the floor: log σ clamped (diagonal); for full covariances the diagonal of Σ is raised
        // where it fell below, which keeps Σ positive definite, and P recomputed from it
        void Project()
        {
            if (options.RegCovar <= 0) return;
            if (!full)
            {
                var span = shape.Span;
                for (var i = 0; i < span.Length; i++) if (span[i] < logFloor) span[i] = logFloor;
                return;
            }
            Store();
            var covariances = (double[])mixture.Covariances.Clone();
            var raised = false;
            for (var c = 0; c < k; c++)
                for (var i = 0; i < d; i++)
                {
                    ref var variance = ref covariances[c * d * d + i * d + i];
                    if (variance < options.RegCovar) { variance = options.RegCovar; raised = true; }
                }
            if (!raised) return;
            mixture.SetParameters(mixture.Weights, mixture.Means, covariances);
            var factors = mixture.PrecisionFactors();
            var raw = shape.Span;
            for (var c = 0; c < k; c++)
                for (var i = 0; i < d; i++)
                    for (var j = i; j < d; j++)
                        raw[c * d * d + i * d + j] = (float)(i == j ? Math.Log(factors[c * d * d + i * d + j]) : factors[c * d * d + i * d + j]);
        }

        void Store()
        {
            var l = logits.ToArray().Select(v => (double)v).ToArray();
            var lse = GaussianMixture.LogSumExp(l);
            var weights = l.Select(v => Math.Exp(v - lse)).ToArray();
            var m = means.ToArray().Select(v => (double)v).ToArray();
            double[] covariances;
            if (full)
            {
                var raw = shape.ToArray();
                covariances = new double[k * d * d];
                for (var c = 0; c < k; c++)
                {
                    var p = new double[d * d];
                    for (var i = 0; i < d; i++)
                        for (var j = i; j < d; j++)
                            p[i * d + j] = i == j ? Math.Exp(raw[c * d * d + i * d + i]) : raw[c * d * d + i * d + j];
                    GaussianMixture.CovarianceFromPrecisionFactor(p, d).CopyTo(covariances, c * d * d);
                }
            }
            else covariances = shape.ToArray().Select(v => Math.Exp(2.0 * v)).ToArray();
            mixture.SetParameters(weights, m, covariances);
        }
    }
}
