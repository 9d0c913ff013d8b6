using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

namespace Pipeline.Training.Tests;

public class ExportTests
{
    [Fact]
    public void AModelWithANonFiniteParameterOrThreshold_IsNeverWritten()
    {
        var root = TestData.TempDirectory();
        // every exporter builds its graph's parameters through one door, which refuses a fit that diverged
        var w = TestData.Uniform(6, 2, seed: 1);
        w[4, 1] = float.PositiveInfinity;
        var e = Assert.Throws<Pipeline.Shared.Errors.InvalidInputException>(() => new OnnxGraphBuilder("g").Constant("W", w));
        Assert.Equal("the fitted parameter 'W' holds Infinity (flat index 9): the fit diverged, and nothing was written; lower the learning rate or regularise the fit", e.Message);

        var mixture = Pipeline.Training.Mixtures.GaussianMixture.FromParameters([1.0], [0.0], [1.0], 1, Pipeline.Training.Mixtures.CovarianceType.Diagonal);
        var gmm = Path.Combine(root, "gmm");
        var threshold = Assert.Throws<Pipeline.Shared.Errors.InvalidInputException>(() =>
            MixtureExport.Export(mixture, gmm, "gmm", null, new AnomalyScoring("mean", 0, double.NaN, "from NaN scores")));
        Assert.Contains("the threshold must be finite (got NaN); nothing was written", threshold.Message);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void ExportedNmfGraphs_PassOnnxFullCheck_AndCarryTheManifest()
    {
        var root = TestData.TempDirectory();
        var v = TestData.Uniform(12, 30, seed: 1);
        var folders = new List<string>();
        foreach (var beta in new[] { 0.0, 1.0, 1.5, 2.0, 3.0 })
        {
            var model = new Nmf(3, 0);
            model.Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 5 });
            var dir = Path.Combine(root, $"beta{beta}");
            var manifest = NmfExport.Export(model, dir, "check", beta, iterations: 25);
            Assert.Equal(["model.onnx", "reconstruction.onnx"], manifest.Files!.Keys.Order().ToArray());
            Assert.Equal(25, ModelFolder.Read(dir).Decomposition!.DefaultIterations);
            folders.Add(dir);
        }
        var output = TestData.Python($$"""
            import onnx, json
            for d in {{"[" + string.Join(", ", folders.Select(f => $"'{f}'")) + "]"}}:
                for name in ['model.onnx', 'reconstruction.onnx']:
                    m = onnx.load(d + '/' + name)
                    onnx.checker.check_model(m, full_check=True)
                    meta = {p.key: p.value for p in m.metadata_props}
                    assert m.ir_version == 8 and m.opset_import[0].version == 17
                    assert json.loads(meta['pipeline.manifest'])['kind'] == 'nmf'
                    print('ok')
            """);
        Assert.Equal(10, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l == "ok"));
    }
}
