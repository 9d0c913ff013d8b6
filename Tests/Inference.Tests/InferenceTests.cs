using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

namespace Pipeline.Inference.Tests;

public class InferenceTests
{
    internal const int F = 24, K = 4;

    internal static (Nmf Model, string Dir) Exported(double beta, int iterations = 50, int seed = 0)
    {
        var (v, _, _) = TestData.Planted(F, 60, K, seed: 20 + seed);
        var model = new Nmf(K, seed);
        model.Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 100 });
        var dir = Path.Combine(TestData.TempDirectory(), "nmf");
        NmfExport.Export(model, dir, "test", beta, iterations);
        return (model, dir);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void ActivationEstimator_MatchesTrainingSide(double beta)
    {
        var (model, dir) = Exported(beta);
        var v = TestData.Uniform(F, 37, seed: 3, low: 0.1f);
        var expected = model.Transform(v, beta, 50);
        using var estimator = new ActivationEstimator(dir);
        var result = estimator.Estimate(v);
        Assert.Equal([K, 37], result.Activations.Shape);
        var error = TestData.MaxRelativeError(result.Activations.Data, expected.Data);
        Assert.True(error < 1e-4, $"H differs by {error}");
        var wh = new Nmf(model.W, expected, seed: 0).Reconstruct();
        Assert.True(TestData.MaxRelativeError(result.Reconstruction.Data, wh.Data) < 1e-4);

        // The iteration count is an input with a default: asking for 5 gives the 5-update answer.
        var five = estimator.Estimate(v, iterations: 5).Activations;
        Assert.True(TestData.MaxRelativeError(five.Data, model.Transform(v, beta, 5).Data) < 1e-4);
    }

    [Fact]
    public void Reconstructor_MatchesTrainingSide()
    {
        var (model, dir) = Exported(1);
        var h = TestData.Uniform(K, 19, seed: 4);
        using var reconstructor = new Reconstructor(dir);
        var expected = new Nmf(model.W, h).Reconstruct();
        Assert.True(TestData.MaxRelativeError(reconstructor.Reconstruct(h).Data, expected.Data) < 1e-5);
    }

    [Fact]
    public void NonFiniteOutputs_AreErrors_NeverResults()
    {
        // V scaled by 1e36 is finite and non-negative, but at β = 0.5 the updates overflow float32: H came out all
        // NaN and was written as a result. Now the estimator refuses it, as does the reconstructor for an H whose
        // W·H passes float32's 3.4e38.
        var (_, dir) = Exported(0.5);
        using var estimator = new ActivationEstimator(dir);
        var v = TestData.Uniform(F, 9, seed: 6, low: 0.1f);
        Assert.True(estimator.Estimate(v).Activations.Data.All(float.IsFinite));
        var huge = new NdArray(v.Shape, v.Data.Select(x => x * 1e36f).ToArray());
        Assert.True(huge.Data.All(float.IsFinite));
        var e = Assert.Throws<InvalidInputException>(() => estimator.Estimate(huge));
        Assert.Contains("overflow float32", e.Message);
        Assert.Contains("scale V down", e.Message);

        using var reconstructor = new Reconstructor(dir);
        var h = TestData.Uniform(K, 9, seed: 7);
        var hugeH = new NdArray(h.Shape, h.Data.Select(x => x * 3e38f).ToArray());
        Assert.Contains("W·H came out infinite", Assert.Throws<InvalidInputException>(() => reconstructor.Reconstruct(hugeH)).Message);
    }

    [Fact]
    public void Estimator_BadData_IsRejectedBeforeOnnxRuntime()
    {
        var (_, dir) = Exported(0);
        using var estimator = new ActivationEstimator(dir);
        Assert.Contains("expects (24, frames)", Assert.Throws<InvalidInputException>(() => estimator.Estimate(TestData.Uniform(5, 5, 1))).Message);
        var bad = TestData.Uniform(F, 5, 1);
        bad[3, 3] = -1;
        Assert.Contains("negative", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        bad[3, 3] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        bad[3, 3] = 0;
        Assert.Contains("β = 0", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        Assert.Throws<InvalidOptionException>(() => estimator.Estimate(TestData.Uniform(F, 5, 1), iterations: -1));
    }

    [Fact]
    public void ModelPackage_MixedOrAlteredFolders_AreContractErrors()
    {
        var (_, a) = Exported(1, seed: 1);
        var (_, b) = Exported(1, seed: 2);

        // A graph from another model, with the manifest's hash updated to match: the embedded manifest still differs.
        var other = Path.Combine(b, "model.onnx");
        File.Copy(other, Path.Combine(a, "model.onnx"), overwrite: true);
        var manifestPath = Path.Combine(a, ModelFolder.ManifestFileName);
        var manifest = ModelFolder.FromJson(File.ReadAllText(manifestPath), manifestPath);
        var hashes = new Dictionary<string, string>(manifest.Files!) { ["model.onnx"] = ModelFolder.Read(b).Files!["model.onnx"] };
        File.WriteAllText(manifestPath, ModelFolder.ToJson(manifest with { Files = hashes, Name = manifest.Name }));
        using (var package = ModelPackage.Open(a))
            Assert.Contains("differs", Assert.Throws<ModelContractException>(() => package.Session("activations")).Message);

        // A graph swapped in without touching the manifest: the hash catches it at open.
        File.Copy(Path.Combine(b, "reconstruction.onnx"), Path.Combine(a, "reconstruction.onnx"), overwrite: true);
        var (_, c) = Exported(1, seed: 3);
        File.Copy(other, Path.Combine(c, "model.onnx"), overwrite: true);
        Assert.Contains("do not match the manifest", Assert.Throws<ModelContractException>(() => new ActivationEstimator(c)).Message);

        Assert.Contains("is a 'nmf' model", Assert.Throws<ModelContractException>(() => ModelPackage.Open(b, expectedKind: "autoencoder")).Message);
        File.Delete(Path.Combine(b, "reconstruction.onnx"));
        Assert.Contains("missing", Assert.Throws<ModelContractException>(() => new Reconstructor(b)).Message);
    }
}
