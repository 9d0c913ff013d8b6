using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using TorchSharp;
using static TorchSharp.torch;

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
/// The parameters are float64 TorchSharp tensors on the mixture's device; likelihoods use the precision Cholesky
/// factor (full) or inverse variances (diagonal) with log-sum-exp over components. EM and scoring run as TorchSharp
/// operations on any device; on the CPU as fused kernels over the same parameters (tested equal). Data: (N, D) rows are samples.
/// </summary>
public sealed partial class GaussianMixture
{
    /// <summary>K.</summary>
    public int Components { get; }
    /// <summary>D (0 until fitted or set).</summary>
    public int Dimensions { get; private set; }
    /// <summary>Diagonal or full.</summary>
    public CovarianceType Covariance { get; }
    /// <summary>Where the parameters live and EM runs.</summary>
    public Device Device { get; }

    // float64 on Device. Precision: diagonal, inverse variances (K, D); full, upper-triangular P with Σ⁻¹ = P·Pᵀ,
    // (K, D, D). Log-det: log det P (full) or ½ Σ log precision (diagonal), (K).
    Tensor? weights, means, covariances, precision, logDet;
    // the same values as arrays, for users and the CPU kernels: made on first use after each change
    double[]? weightsArray, meansArray, covariancesArray, precisionArray, logDetArray;

    /// <summary>Mixing weights, (K) (a copy of the parameter tensor; empty until fitted).</summary>
    public double[] Weights => weights is null ? [] : weightsArray ??= Values(weights);
    /// <summary>Means, (K, D) row-major.</summary>
    public double[] Means => means is null ? [] : meansArray ??= Values(means);
    /// <summary>Covariances: (K, D) variances when diagonal, (K, D, D) when full.</summary>
    public double[] Covariances => covariances is null ? [] : covariancesArray ??= Values(covariances);
    /// <summary>
    /// The parameter tensors (float64, on <see cref="Device"/>): weights (K), means (K, D), covariances (K, D) or (K, D, D);
    /// null until fitted. The mixture owns them: they are valid until its parameters change.
    /// </summary>
    public (Tensor Weights, Tensor Means, Tensor Covariances)? Parameters => weights is null ? null : (weights, means!, covariances!);

    double[] precisionFactor => precisionArray ??= Values(precision!);
    double[] logDetFactor => logDetArray ??= Values(logDet!);

    /// <summary>Full covariance: take the BLAS products even where the AVX-512 kernels apply (tests compare the two).</summary>
    internal bool BlasProducts { get; set; }

    /// <summary>On the CPU, run EM and scoring on the fused kernels (false: as TorchSharp operations, which the tests compare).</summary>
    internal bool CpuKernels { get; set; } = true;

    bool UsesCpuKernels => CpuKernels && Device.type == DeviceType.CPU;

    /// <summary>An unfitted mixture of <paramref name="components"/> components, on <paramref name="device"/> (the CPU when null).</summary>
    public GaussianMixture(int components, CovarianceType covariance = CovarianceType.Full, Device? device = null)
    {
        if (components < 1) throw new InvalidOptionException($"a mixture needs at least one component, got {components}");
        Components = components;
        Covariance = covariance;
        Device = device ?? CPU;
    }

    /// <summary>A mixture with the given parameters (shapes as the properties document).</summary>
    public static GaussianMixture FromParameters(double[] weights, double[] means, double[] covariances, int dimensions, CovarianceType covariance,
        Device? device = null)
    {
        var k = weights.Length;
        var expected = covariance == CovarianceType.Full ? k * dimensions * dimensions : k * dimensions;
        if (means.Length != k * dimensions || covariances.Length != expected)
            throw new InvalidInputException($"mixture parameters do not fit K = {k}, D = {dimensions}: {means.Length} means, {covariances.Length} covariance values");
        var gmm = new GaussianMixture(k, covariance, device) { Dimensions = dimensions };
        gmm.SetParameters((double[])weights.Clone(), (double[])means.Clone(), (double[])covariances.Clone());
        return gmm;
    }

    /// <summary>An independent copy of the current parameters (for convergence pictures).</summary>
    public GaussianMixture Clone() => FromParameters(Weights, Means, Covariances, Dimensions, Covariance, Device);

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

    /// <summary>Sets the parameters from arrays (kept as the arrays' values; see <see cref="SetParameters(Tensor, Tensor, Tensor)"/>).</summary>
    internal void SetParameters(double[] w, double[] m, double[] c)
    {
        int k = Components, d = Dimensions;
        long[] covarianceShape = Covariance == CovarianceType.Full ? [k, d, d] : [k, d];
        SetParameters(tensor(w, device: Device), tensor(m, [k, d], device: Device), tensor(c, covarianceShape, device: Device));
        (weightsArray, meansArray, covariancesArray) = (w, m, c);
    }

    /// <summary>
    /// Sets the parameters (float64 tensors on <see cref="Device"/>, which the mixture keeps) and the precision factors:
    /// inverse variances, or P = (L⁻¹)ᵀ from the Cholesky factor L of each Σ (LibTorch's batched Cholesky).
    /// </summary>
    /// <exception cref="InvalidInputException">A variance is not positive, or a covariance not positive definite: the message names the component.</exception>
    internal void SetParameters(Tensor w, Tensor m, Tensor c)
    {
        Tensor p, l;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            if (Covariance == CovarianceType.Diagonal)
            {
                var bad = (c <= 0).any(1).nonzero();
                if (bad.numel() > 0)
                    throw new InvalidInputException($"component {bad[0, 0].item<long>()} has a non-positive variance; {RaiseRegCovar}");
                p = c.reciprocal();
                l = p.log().sum([1L]) * 0.5;
            }
            else
            {
                var (factor, info) = linalg.cholesky_ex(c);
                var bad = info.nonzero();
                if (bad.numel() > 0)
                    throw new InvalidInputException($"component {bad[0, 0].item<long>()}'s covariance is not positive definite; {RaiseRegCovar}");
                var identity = eye(Dimensions, dtype: ScalarType.Float64, device: c.device).expand(c.shape);
                p = linalg.solve_triangular(factor, identity, upper: false).transpose(1, 2).contiguous();
                l = -factor.diagonal(0, 1, 2).log().sum([1L]);
            }
            (p, l) = (p.MoveToOuterDisposeScope(), l.MoveToOuterDisposeScope());
        }
        foreach (var old in new[] { weights, means, covariances, precision, logDet }) old?.Dispose();
        // the mixture owns them now: no caller's dispose scope may free them
        (weights, means, covariances, precision, logDet) = (w.DetachFromDisposeScope(), m.DetachFromDisposeScope(), c.DetachFromDisposeScope(),
            p.DetachFromDisposeScope(), l.DetachFromDisposeScope());
        (weightsArray, meansArray, covariancesArray, precisionArray, logDetArray) = (null, null, null, null, null);
    }

    /// <summary>What a collapsed component's error suggests.</summary>
    const string RaiseRegCovar = "raise the covariance regularisation (--reg-covar, GmmEmOptions.RegCovar)";

    static double[] Values(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        return cpu.data<double>().ToArray();
    }

    /// <summary>log p(x) of every sample.</summary>
    public double[] ScoreSamples(NdArray data)
    {
        var samples = Prepare(data, requireFitted: true);
        if (!UsesCpuKernels)
        {
            using var scope = NewDisposeScope();
            return Values(WeightedLogProbabilities(samples.OnDevice(Device)).logsumexp(1));
        }
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
        if (UsesCpuKernels) WeightedLogProbabilities(samples, weighted);
        else
            using (NewDisposeScope()) Values(WeightedLogProbabilities(samples.OnDevice(Device))).CopyTo(weighted, 0);
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
}
