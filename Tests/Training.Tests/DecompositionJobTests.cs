using Pipeline.Shared.Arrays;
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
    public void PlainNmf_TakesTheOrthogonalPenalty_AndL1L2AsTorchnmfNamesThem()
    {
        var (v, _, _) = TestData.Planted(12, 30, rank: 3, seed: 5);
        DecompositionResult Fit(double l1, double orthogonal) => DecompositionJob.Fit(v, new DecompositionOptions
            { Model = "nmf", Rank = 3, MaxIterations = 40, L1 = l1, Orthogonal = orthogonal, Device = Inference.Runtime.Device.Cpu });
        double Overlap(NdArray w) // Σ over pairs of components of their cosine similarity; W (F, K)
        {
            double total = 0;
            for (var a = 0; a < 3; a++)
                for (var b = a + 1; b < 3; b++)
                {
                    double dot = 0, na = 0, nb = 0;
                    for (var f = 0; f < 12; f++) { var (x, y) = (w[f, a], w[f, b]); dot += x * y; na += x * x; nb += y * y; }
                    if (na > 0 && nb > 0) total += dot / Math.Sqrt(na * nb);
                }
            return total;
        }
        var plain = Fit(0, 0);
        Assert.True(Overlap(Fit(0, 1.0).W) < Overlap(plain.W)); // the penalty reached the fit (it was once ignored for plain NMF)
        // an L1 penalty on the fast path: the penalised loss trades reconstruction for smaller factors
        Assert.True(Fit(5, 0).History[^1] > plain.History[^1]);
    }

    [Fact]
    public void BadModelsTrainersAndShapes_AreRefusedBeforeAnyWork()
    {
        var (v, _, _) = TestData.Planted(6, 20, rank: 3, seed: 4);
        Assert.Contains("'nmf4d'", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmf4d" })).Message);
        Assert.Contains("logadam", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmfd", Trainer = "logadam" })).Message);
        Assert.Contains("EM", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "plca", Trainer = "sparse", SparsenessH = 0.5 })).Message);
        // options a trainer would ignore are refused, never dropped silently
        Assert.Contains("--beta 2", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Trainer = "logadam", Beta = 0.5 })).Message);
        Assert.Contains("--trainer logadam", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Trainer = "logadam", L1 = 0.1 })).Message);
        Assert.Contains("plca's EM", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "plca", L2 = 0.1 })).Message);
        Assert.Contains("--sparseness", Assert.Throws<InvalidOptionException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Trainer = "sparse" })).Message);
        Assert.Contains("3-d", Assert.Throws<InvalidInputException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmf3d", Kernel = [1, 2, 2] })).Message);
        v.Data[3] = -1;
        Assert.Throws<InvalidInputException>(() => DecompositionJob.Fit(v, new DecompositionOptions { Model = "nmfd", Window = 4 }));
    }
}
