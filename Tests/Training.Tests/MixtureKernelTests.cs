using Pipeline.Shared.Arrays;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Synthesis;

namespace Pipeline.Training.Tests;

/// <summary>
/// The EM kernels: the full-covariance E- and M-step products (AVX-512 triangle kernels, and the BLAS path used
/// elsewhere) against the same quantities computed here in double precision from the definitions, and the fused
/// diagonal iteration against the separate E- and M-steps (which the scikit-learn fixture checks).
/// </summary>
public class MixtureKernelTests
{
    // Planted clusters along the axes; N: several row blocks and a partial one
    static (float[] X, NdArray Data, GaussianMixture Start) Clusters(int d, int k, int n, CovarianceType type)
    {
        var g = new SeededRandom(5);
        var x = new float[n * d];
        g.FillNormal(x, 0, 1);
        for (var s = 0; s < n; s++) x[s * d + s % d] += 3 * (s % k);
        var data = new NdArray([n, d], x);
        var start = new GaussianMixture(k, type);
        start.FitEm(data, new GmmEmOptions { MaxIterations = 1, Seed = 1 });
        return (x, data, start);
    }

    // D = 64, K = 16: the benchmark's shape (the fused pass); D = 20, K = 5: dimensions padded with zeros to whole
    // vectors and components to a register. Both the fused iteration and the separate steps against one iteration
    // in double. Both sum in float over chunks of rows (256 fused, 4096 separate) of samples centred on their mean
    // x̄: a chunk's sum rounds at about u·√4096 ≈ 4e-6 of its size, so the means at that of |μ − x̄| + σ (the bound
    // below allows ten of them), and σ² = Σrx²/N − μ² at that of Σrx²/N = σ² + (μ − x̄)²
    [Theory]
    [InlineData(64, 16, 9001)]
    [InlineData(20, 5, 777)]
    public void DiagonalIteration_MatchesDoublePrecision(int d, int k, int n)
    {
        var (x, data, start) = Clusters(d, k, n, CovarianceType.Diagonal);
        var reference = DiagonalIterationInDouble(x, n, d, start, 1e-6);
        var centre = new double[d];
        for (var s = 0; s < n; s++)
            for (var j = 0; j < d; j++) centre[j] += x[s * d + j] / (double)n;
        var fused = start.Clone();
        var fusedLogLikelihood = fused.EmIteration(fused.Prepare(data, requireFitted: true), new double[n * k], 1e-6);
        var separate = start.Clone();
        var samples = separate.Prepare(data, requireFitted: true);
        var r = new double[n * k];
        var separateLogLikelihood = separate.ExpectationStep(samples, r);
        separate.MaximisationStep(samples, r, 1e-6);
        foreach (var (gmm, logLikelihood) in new[] { (fused, fusedLogLikelihood), (separate, separateLogLikelihood) })
        {
            Assert.Equal(reference.LogLikelihood, logLikelihood, 1e-6 * Math.Abs(reference.LogLikelihood));
            for (var c = 0; c < k; c++)
            {
                Assert.Equal(reference.Weights[c], gmm.Weights[c], 1e-6);
                for (var j = 0; j < d; j++)
                {
                    var at = c * d + j;
                    var offset = reference.Means[at] - centre[j];
                    Assert.Equal(reference.Means[at], gmm.Means[at], 4e-5 * (1 + Math.Abs(offset)));
                    Assert.Equal(reference.Variances[at], gmm.Covariances[at], 4e-5 * (reference.Variances[at] + offset * offset));
                }
            }
        }
    }

    // D = 64, K = 16: the benchmark's shape; D = 24, K = 5: dimensions padded to whole vectors, components to a
    // register. The fused iteration forms the same float scatter of the same float responsibilities as the
    // separate M-step, so the two agree to the rounding of that scatter
    [Theory]
    [InlineData(64, 16, 9001)]
    [InlineData(24, 5, 777)]
    public void FullIteration_MatchesTheSeparateSteps(int d, int k, int n)
    {
        var (_, data, fused) = Clusters(d, k, n, CovarianceType.Full);
        var separate = fused.Clone();
        var r = new double[n * k];
        var fusedLogLikelihood = fused.EmIteration(fused.Prepare(data, requireFitted: true), r, 1e-6);
        var samples = separate.Prepare(data, requireFitted: true);
        var logLikelihood = separate.ExpectationStep(samples, r);
        separate.MaximisationStep(samples, r, 1e-6);
        Assert.Equal(logLikelihood, fusedLogLikelihood, 1e-6 * Math.Abs(logLikelihood));
        for (var c = 0; c < k; c++)
        {
            Assert.Equal(separate.Weights[c], fused.Weights[c], 1e-6);
            for (var j = 0; j < d; j++)
            {
                Assert.Equal(separate.Means[c * d + j], fused.Means[c * d + j], 1e-5);
                for (var i = 0; i < d; i++)
                {
                    var at = (c * d + i) * d + j;
                    Assert.Equal(separate.Covariances[at], fused.Covariances[at], 1e-5 * (1 + Math.Abs(separate.Covariances[at])));
                }
            }
        }
    }

    // one diagonal EM iteration from the mixture's parameters, all in double: log-likelihoods, responsibilities,
    // then the weighted means and variances (+ reg)
    static (double LogLikelihood, double[] Weights, double[] Means, double[] Variances) DiagonalIterationInDouble(float[] x, int n, int d, GaussianMixture gmm, double reg)
    {
        var k = gmm.Components;
        var counts = new double[k];
        var sums = new double[k * d];
        var squares = new double[k * d];
        var log = new double[k];
        double total = 0;
        for (var s = 0; s < n; s++)
        {
            for (var c = 0; c < k; c++)
            {
                var v = Math.Log(gmm.Weights[c]);
                for (var j = 0; j < d; j++)
                {
                    var variance = gmm.Covariances[c * d + j];
                    var z = x[s * d + j] - gmm.Means[c * d + j];
                    v -= 0.5 * (Math.Log(2 * Math.PI * variance) + z * z / variance);
                }
                log[c] = v;
            }
            var max = log.Max();
            var sum = log.Sum(v => Math.Exp(v - max));
            total += max + Math.Log(sum);
            for (var c = 0; c < k; c++)
            {
                var weight = Math.Exp(log[c] - max) / sum;
                counts[c] += weight;
                for (var j = 0; j < d; j++)
                {
                    sums[c * d + j] += weight * x[s * d + j];
                    squares[c * d + j] += weight * x[s * d + j] * (double)x[s * d + j];
                }
            }
        }
        var means = new double[k * d];
        var variances = new double[k * d];
        for (var c = 0; c < k; c++)
            for (var j = 0; j < d; j++)
            {
                means[c * d + j] = sums[c * d + j] / counts[c];
                variances[c * d + j] = squares[c * d + j] / counts[c] - means[c * d + j] * means[c * d + j] + reg;
            }
        return (total / n, counts.Select(count => count / n).ToArray(), means, variances);
    }

    // D = 64: whole vector pairs; 40 (padded to 48) and 80: an odd vector count, so a pair without its left half;
    // N: not a multiple of the 8-row tile, and more than one parallel task and scatter chunk
    [Theory]
    [InlineData(64, 1203, false)]
    [InlineData(40, 777, false)]
    [InlineData(80, 4203, false)]
    [InlineData(40, 777, true)]
    public void LogDensitiesAndScatter_MatchDoublePrecision(int d, int n, bool blas)
    {
        const int k = 3;
        var g = new SeededRandom(11);
        var x = new float[n * d];
        g.FillNormal(x, 0, 1);
        for (var s = 0; s < n; s++) x[s * d + s % d] += 4; // some structure away from the origin
        var weights = new[] { 0.5, 0.3, 0.2 };
        var means = new double[k * d];
        var covariances = new double[k * d * d];
        var noise = new float[d * d];
        for (var c = 0; c < k; c++)
        {
            for (var j = 0; j < d; j++) means[c * d + j] = 0.1 * (c + 1) * (j % 5) + 1;
            // Σ = A·Aᵀ/d + 0.5 I: well conditioned, with correlations in every pair of dimensions
            g.FillNormal(noise, 0, 1);
            for (var i = 0; i < d; i++)
                for (var j = 0; j < d; j++)
                {
                    double sum = 0;
                    for (var m = 0; m < d; m++) sum += (double)noise[i * d + m] * noise[j * d + m];
                    covariances[(c * d + i) * d + j] = sum / d + (i == j ? 0.5 : 0);
                }
        }
        var gmm = GaussianMixture.FromParameters(weights, means, covariances, d, CovarianceType.Full);
        gmm.BlasProducts = blas;
        var data = new NdArray([n, d], x);

        var logDensity = gmm.ScoreSamples(data);
        for (var s = 0; s < n; s += 7)
        {
            var expected = LogDensity(x.AsSpan(s * d, d), weights, means, covariances, d);
            Assert.True(Math.Abs(logDensity[s] - expected) < 1e-5 * (d + Math.Abs(expected)), $"sample {s}: {logDensity[s]} vs {expected}");
        }

        // one M-step from fixed responsibilities
        var r = new double[n * k];
        for (var s = 0; s < n; s++)
        {
            double[] raw = [1 + s % 3, 1 + s % 5, 0.5 + s % 2];
            for (var c = 0; c < k; c++) r[s * k + c] = raw[c] / raw.Sum();
        }
        var samples = gmm.Prepare(data, requireFitted: true);
        gmm.MaximisationStep(samples, r, 1e-6);
        for (var c = 0; c < k; c++)
        {
            double count = 0;
            var mean = new double[d];
            for (var s = 0; s < n; s++)
            {
                count += r[s * k + c];
                for (var j = 0; j < d; j++) mean[j] += r[s * k + c] * x[s * d + j];
            }
            for (var j = 0; j < d; j++) mean[j] /= count;
            for (var i = 0; i < d; i += 3)
                for (var j = 0; j < d; j += 2)
                {
                    double sum = 0;
                    for (var s = 0; s < n; s++) sum += r[s * k + c] * (x[s * d + i] - mean[i]) * (x[s * d + j] - mean[j]);
                    var expected = sum / count + (i == j ? 1e-6 : 0);
                    Assert.True(Math.Abs(gmm.Covariances[(c * d + i) * d + j] - expected) < 1e-5, $"Σ{c}[{i},{j}] = {gmm.Covariances[(c * d + i) * d + j]}, expected {expected}");
                }
        }
    }

    // log Σₖ wₖ N(x | μₖ, Σₖ) by a Cholesky factorisation and forward substitution, all in double
    static double LogDensity(ReadOnlySpan<float> x, double[] weights, double[] means, double[] covariances, int d)
    {
        var terms = new double[weights.Length];
        for (var c = 0; c < weights.Length; c++)
        {
            var l = new double[d * d];
            for (var i = 0; i < d; i++)
                for (var j = 0; j <= i; j++)
                {
                    var sum = covariances[(c * d + i) * d + j];
                    for (var m = 0; m < j; m++) sum -= l[i * d + m] * l[j * d + m];
                    l[i * d + j] = i == j ? Math.Sqrt(sum) : sum / l[j * d + j];
                }
            var y = new double[d];
            double quadratic = 0, logDet = 0;
            for (var i = 0; i < d; i++)
            {
                var v = x[i] - means[c * d + i];
                for (var m = 0; m < i; m++) v -= l[i * d + m] * y[m];
                y[i] = v / l[i * d + i];
                quadratic += y[i] * y[i];
                logDet += 2 * Math.Log(l[i * d + i]);
            }
            terms[c] = Math.Log(weights[c]) - 0.5 * (d * Math.Log(2 * Math.PI) + logDet + quadratic);
        }
        var max = terms.Max();
        return max + Math.Log(terms.Sum(t => Math.Exp(t - max)));
    }
}
