using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

namespace Pipeline.Training.Tests;

public class ExportTests
{
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
