using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class DecompositionJobTests
{
    [Theory]
    [InlineData("nmf", "mu", 6, 3)]        // W (F, K), H (K, T)
    [InlineData("nmf", "sparse", 6, 3)]
    [InlineData("nmfd", "mu", 6, 3 * 4)]   // W (C, R·T): each component's lags side by side
    [InlineData("siplca2", "mu", 1, 3 * 2 * 3)]
    public void Fit_ReturnsMatricesOfTheModelsShapes_AndLowersTheLoss(string model, string trainer, int wRows, int wColumns)
    {
        var (v, _, _) = TestData.Planted(6, 20, rank: 3, seed: 4);
        var result = DecompositionJob.Fit(v, new DecompositionOptions
        {
            Model = model, Trainer = trainer, Rank = 3, Window = 4, Kernel = [2, 3], MaxIterations = 30, SparsenessH = 0.5, Device = Inference.Runtime.Device.Cpu,
        });
        Assert.Equal([wRows, wColumns], result.W.Shape);
        Assert.Equal(v.Shape, result.Reconstruction.Shape);
        Assert.Equal(30, result.History.Count);
        Assert.True(result.History[^1] < result.History[0], $"{model}/{trainer}: loss {result.History[0]} → {result.History[^1]}");
        var folder = Path.Combine(TestData.TempDirectory(), model);
        Directory.CreateDirectory(folder);
        result.WriteFolder(folder, model, v, Plots.HeatMapAxis.Index("feature"), Plots.HeatMapAxis.Index("frame"));
        Assert.True(File.Exists(Path.Combine(folder, "model.onnx")) && File.Exists(Path.Combine(folder, "WH.npy")));
    }

    [Fact]
    public void BadModelsTrainersAndShapes_AreRefusedBeforeAnyWork()
    {
        var (v, _, _) = TestData.Planted(6, 20, rank: 3, seed: 4);
        Assert.Contains("'nmf4d'", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmf4d" })).Message);
        Assert.Contains("logadam", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmfd", Trainer = "logadam" })).Message);
        Assert.Contains("EM", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "plca", Trainer = "sparse", SparsenessH = 0.5 })).Message);
        Assert.Contains("--sparseness", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Trainer = "sparse" })).Message);
        Assert.Contains("3-d", Assert.Throws<InvalidInputException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmf3d", Kernel = [1, 2, 2] })).Message);
        v.Data[3] = -1;
        Assert.Throws<InvalidInputException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmfd", Window = 4 }));
    }
}
