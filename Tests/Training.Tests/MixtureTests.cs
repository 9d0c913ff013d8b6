using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Synthesis;
using TorchSharp.PyBridge;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class MixtureTests
{
    /// <summary>Samples of a planted 2-D mixture: components at (−5, 0), (5, 0) and (0, 6) with spreads 1, 0.5 and (1.5, 0.7).</summary>
    static NdArray Planted(int n, int seed, out int[] labels)
    {
        var g = new SeededRandom(seed);
        double[][] centres = [[-5, 0], [5, 0], [0, 6]];
        double[][] spreads = [[1, 1], [0.5, 0.5], [1.5, 0.7]];
        double[] weights = [0.5, 0.3, 0.2];
        var data = new float[n * 2];
        labels = new int[n];
        var normal = new float[2];
        for (var i = 0; i < n; i++)
        {
            var u = g.NextDouble();
            var c = u < weights[0] ? 0 : u < weights[0] + weights[1] ? 1 : 2;
            labels[i] = c;
            g.FillNormal(normal, 0, 1);
            for (var j = 0; j < 2; j++) data[i * 2 + j] = (float)(centres[c][j] + spreads[c][j] * normal[j]);
        }
        return new NdArray([n, 2], data);
    }

    [Theory]
    [InlineData("full", CovarianceType.Full, true)]
    [InlineData("diag", CovarianceType.Diagonal, true)]
    [InlineData("full", CovarianceType.Full, false)]
    [InlineData("diag", CovarianceType.Diagonal, false)]
    public void Em_MatchesScikitLearnFromTheSameStart_OnTheCpuKernelsAndAsTorchSharpOperations(string file, CovarianceType type, bool cpuKernels)
    {
        var f = Safetensors.LoadStateDict(Path.Combine(AppContext.BaseDirectory, "Fixtures", $"sklearn_gmm_{file}.safetensors"));
        var x = TorchArrays.ToNdArray(f["x"]);
        var d = x.Columns;
        double[] D(string name) => f[name].Values().Select(v => (double)v).ToArray();
        var gmm = GaussianMixture.FromParameters(D("weights_init"), D("means_init"), D("covariances_init"), d, type);
        gmm.CpuKernels = cpuKernels;
        var result = gmm.FitEm(x, new GmmEmOptions { Tolerance = 0, MaxIterations = 25, WarmStart = true });
        Assert.Equal(25, result.Iterations);
        var expected = f["score"].Values().Single();
        Assert.True(Math.Abs(result.MeanLogLikelihood - expected) <= 1e-4 * Math.Abs(expected), $"{result.MeanLogLikelihood} vs scikit-learn {expected}");
        var means = D("means");
        for (var i = 0; i < means.Length; i++) Assert.Equal(means[i], gmm.Means[i], 1e-3);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    public void CpuKernels_FollowTheTorchSharpSteps_FromKMeansPlusPlusToScoring(CovarianceType type)
    {
        var x = Planted(2000, 5, out _);
        GaussianMixture Fit(bool cpuKernels, out GmmFitResult result)
        {
            var gmm = new GaussianMixture(3, type) { CpuKernels = cpuKernels };
            result = gmm.FitEm(x, new GmmEmOptions { Seed = 4, Restarts = 2, Tolerance = 0, MaxIterations = 15 });
            return gmm;
        }
        var (kernels, torch) = (Fit(true, out var fused), Fit(false, out var operations));
        for (var i = 0; i < fused.History.Count; i++)
            Assert.True(Math.Abs(fused.History[i] - operations.History[i]) <= 1e-5 * Math.Abs(operations.History[i]), $"iteration {i}: {fused.History[i]} vs {operations.History[i]}");
        for (var i = 0; i < kernels.Means.Length; i++) Assert.Equal(torch.Means[i], kernels.Means[i], 1e-4);
        for (var i = 0; i < kernels.Covariances.Length; i++) Assert.Equal(torch.Covariances[i], kernels.Covariances[i], 1e-4);
        var (a, b) = (kernels.ScoreSamples(x), torch.ScoreSamples(x));
        for (var i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-4);
        Assert.Equal(torch.Bic(x), kernels.Bic(x), 1e-3 * Math.Abs(torch.Bic(x)));
    }

    [Fact]
    public void Em_RecoversAPlantedMixture_AndNeverLowersTheLikelihood()
    {
        var x = Planted(3000, 1, out _);
        var gmm = new GaussianMixture(3, CovarianceType.Full);
        var result = gmm.FitEm(x, new GmmEmOptions { Seed = 2, Restarts = 2, Tolerance = 1e-6 });
        Assert.True(result.Converged);
        // EM cannot lower the likelihood; the products run in float32, whose rounding of each sample's log-density
        // (about 6e-8 of its size, a few units here) bounds how far a converged iteration may appear to step back
        for (var i = 1; i < result.History.Count; i++)
            Assert.True(result.History[i] >= result.History[i - 1] - 1e-6 * Math.Abs(result.History[i - 1]), $"iteration {i + 1} lowered the log-likelihood");
        double[][] centres = [[-5, 0], [5, 0], [0, 6]];
        double[] spreads = [1, 0.5, 1.5];
        double[] weights = [0.5, 0.3, 0.2];
        for (var c = 0; c < 3; c++)
        {
            var k = Enumerable.Range(0, 3).MinBy(m => Math.Pow(gmm.Means[m * 2] - centres[c][0], 2) + Math.Pow(gmm.Means[m * 2 + 1] - centres[c][1], 2));
            var standardError = spreads[c] / Math.Sqrt(3000 * weights[c]);
            for (var j = 0; j < 2; j++) Assert.InRange(gmm.Means[k * 2 + j], centres[c][j] - 4 * standardError, centres[c][j] + 4 * standardError);
            Assert.InRange(gmm.Weights[k], weights[c] - 0.04, weights[c] + 0.04);
        }
        var ll = gmm.ScoreSamples(x).Sum();
        Assert.Equal(-2 * ll + gmm.ParameterCount * Math.Log(3000), gmm.Bic(x), 1e-6);
        Assert.Equal(-2 * ll + 2 * gmm.ParameterCount, gmm.Aic(x), 1e-6);
        Assert.Equal(3 * 3 + 3 * 2 + 2, gmm.ParameterCount);
        var r = gmm.Responsibilities(x);
        for (var s = 0; s < 10; s++) Assert.Equal(1.0, r[s, 0] + r[s, 1] + r[s, 2], 1e-5);
    }

    [Theory]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Full)]
    public void GradientAndEm_ReachTheSameOptimum(CovarianceType type)
    {
        var x = Planted(1500, 3, out _);
        var em = new GaussianMixture(3, type);
        var emResult = em.FitEm(x, new GmmEmOptions { Seed = 1, Tolerance = 1e-8, MaxIterations = 500 });
        var gradient = new GaussianMixture(3, type);
        var gradientResult = MixtureGradientFit.Fit(gradient, x, new GmmGradientOptions { Seed = 1, Steps = 400, LearningRate = 0.05 });
        Assert.True(gradientResult.History[^1] > gradientResult.History[0]);
        Assert.Equal(emResult.MeanLogLikelihood, gradientResult.MeanLogLikelihood, 2e-3);
        foreach (var m in Enumerable.Range(0, 3))
        {
            var closest = Enumerable.Range(0, 3).Min(n => Math.Abs(em.Means[m * 2] - gradient.Means[n * 2]) + Math.Abs(em.Means[m * 2 + 1] - gradient.Means[n * 2 + 1]));
            Assert.True(closest < 0.05, $"EM mean {m} has no gradient-fitted counterpart ({closest})");
        }
    }

    [Theory]
    [InlineData(CovarianceType.Diagonal)]
    [InlineData(CovarianceType.Full)]
    public void GradientFit_HoldsTheVarianceFloor_AsEmDoes_AndSaysConvergedOnlyWhenTheToleranceIsMet(CovarianceType type)
    {
        // X = [randn(100), 7·ones(100)]: the second dimension is constant, so without the floor the likelihood has no maximum
        var noise = new float[100];
        new SeededRandom(3).FillNormal(noise, 0, 1);
        var x = new NdArray([100, 2], Enumerable.Range(0, 100).SelectMany(i => new[] { noise[i], 7f }).ToArray());
        var em = new GaussianMixture(1, type);
        var emResult = em.FitEm(x, new GmmEmOptions { RegCovar = 1e-2, Tolerance = 1e-10, MaxIterations = 50 });
        // closed form: a Gaussian with the sample mean, the sample variance (+ reg) and variance 0 + reg in the constant dimension
        var mean = noise.Average(v => (double)v);
        var variance = noise.Average(v => (v - mean) * (v - mean)) + 1e-2;
        var expected = -0.5 * Math.Log(2 * Math.PI * variance) - 0.5 * (variance - 1e-2) / variance - 0.5 * Math.Log(2 * Math.PI * 1e-2);
        Assert.Equal(expected, emResult.MeanLogLikelihood, 1e-6);
        foreach (var steps in new[] { 100, 300, 1000 })
        {
            var gmm = new GaussianMixture(1, type);
            var result = MixtureGradientFit.Fit(gmm, x, new GmmGradientOptions { Steps = steps, RegCovar = 1e-2, LearningRate = 0.05 });
            Assert.False(result.Converged); // no tolerance was given, so none was met
            Assert.Equal(steps, result.Iterations);
            Assert.True(result.MeanLogLikelihood <= emResult.MeanLogLikelihood + 1e-4, $"{steps} steps: {result.MeanLogLikelihood} above the optimum {emResult.MeanLogLikelihood}");
            var constantVariance = type == CovarianceType.Full ? gmm.Covariances[3] : gmm.Covariances[1];
            Assert.True(constantVariance >= 1e-2 * (1 - 1e-5), $"variance {constantVariance} below reg-covar");
        }
        var stopped = MixtureGradientFit.Fit(new GaussianMixture(1, type), x, new GmmGradientOptions { Steps = 1000, RegCovar = 1e-2, Tolerance = 1e-4 });
        Assert.True(stopped.Converged && stopped.Iterations < 1000, $"{stopped.Iterations} steps");
        var h = stopped.History;
        Assert.True(Math.Abs(h[^1] - h[^(MixtureGradientFit.ToleranceWindow + 1)]) < 1e-4);
        Assert.Equal(emResult.MeanLogLikelihood, stopped.MeanLogLikelihood, 1e-2);
    }

    [Fact]
    public void BadInput_IsRefusedOrRegularised()
    {
        var tiny = new NdArray([2, 2], [0f, 1f, 2f, 3f]);
        Assert.Throws<InvalidOptionException>(() => new GaussianMixture(3).FitEm(tiny));
        var withNaN = new NdArray([3, 1], [0f, float.NaN, 1f]);
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => new GaussianMixture(1).FitEm(withNaN)).Message);
        // the second dimension is constant: regCovar keeps the fit finite and the warning says why
        var constant = new NdArray([100, 2], Enumerable.Range(0, 100).SelectMany(i => new[] { (float)Math.Sin(i), 3f }).ToArray());
        var gmm = new GaussianMixture(2, CovarianceType.Full);
        var result = gmm.FitEm(constant, new GmmEmOptions { RegCovar = 1e-6 });
        Assert.True(double.IsFinite(result.MeanLogLikelihood));
        Assert.Contains(result.Warnings, w => w.Contains("dimension 1 of 2 is constant"));
        Assert.Throws<InvalidInputException>(() => new GaussianMixture(2).FitEm(constant, new GmmEmOptions { RegCovar = 0 }));
        // a collapsed covariance names its component and the way out
        var collapsed = Assert.Throws<InvalidInputException>(() => GaussianMixture.FromParameters([0.5, 0.5], [0, 0, 1, 1],
            [1, 0, 0, 1, 1, 1, 1, 1], 2, CovarianceType.Full)).Message;
        Assert.Contains("component 1", collapsed);
        Assert.Contains("--reg-covar", collapsed);
        Assert.Contains("component 0", Assert.Throws<InvalidInputException>(() => GaussianMixture.FromParameters([1.0], [0, 0], [0, 1], 2, CovarianceType.Diagonal)).Message);
        Assert.Throws<InvalidInputException>(() => gmm.ScoreSamples(new NdArray([2, 3], new float[6])));
        // one-dimensional data may come as a vector
        var oneD = new GaussianMixture(2, CovarianceType.Diagonal);
        oneD.FitEm(new NdArray([200], Enumerable.Range(0, 200).Select(i => (float)(i % 2 == 0 ? -3 + i * 0.001 : 3 - i * 0.001)).ToArray()));
        Assert.Equal(1, oneD.Dimensions);
    }
}
