using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

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
public sealed partial class GaussianMixture
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

}
