using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class PlcaTests
{
    static double RelativeError(Tensor a, Tensor b)
    {
        var x = a.Values();
        var y = b.Values();
        return Math.Sqrt(x.Zip(y, (p, q) => (double)(p - q) * (p - q)).Sum() / y.Sum(q => (double)q * q));
    }

    [Fact]
    public void Plca_ReconstructsPlantedDataWithItsMass_AndEmNeverLowersTheLikelihood()
    {
        var (v, _, _) = TestData.Planted(30, 20, rank: 3, seed: 6); // (features, frames); PLCA takes (N, C)
        var data = TorchArrays.FromNdArray(v).t();
        var model = new Plca([20, 30], rank: 3, new Generator(1));
        var result = model.Fit(data, tolerance: 0, maxIterations: 300);
        Assert.Equal(v.Data.Sum(x => (double)x), result.Mass, 1e-3);
        var reconstruction = model.Reconstruction(result.Mass);
        Assert.Equal(result.Mass, reconstruction.Values().Sum(x => (double)x), 1e-3 * result.Mass);
        for (var i = 1; i < result.LogLikelihood.Count; i++)
            Assert.True(result.LogLikelihood[i] >= result.LogLikelihood[i - 1] - 1e-6 * Math.Abs(result.LogLikelihood[i - 1]), $"iteration {i + 1} lowered the likelihood");
        Assert.True(RelativeError(reconstruction, data) < 0.05, $"error {RelativeError(reconstruction, data)}");
        Assert.Equal(1.0, model.Z.Values().Sum(x => (double)x), 1e-5);
        Assert.All(Enumerable.Range(0, 3), r => Assert.Equal(1.0, Enumerable.Range(0, 30).Sum(c => model.W.At(c, r)), 1e-4));
    }

    [Fact]
    public void Siplca_FitsAPlantedShiftInvariantModel()
    {
        var truth = new Nmfd([1, 10, 30], 2, 4, new Generator(2));
        Tensor v;
        using (no_grad()) v = truth.forward().detach();
        var model = new Siplca([1, 10, 30], 2, [4], new Generator(3));
        Assert.Equal([10, 2, 4], model.W.shape);
        Assert.Equal([1, 2, 27], model.H.shape);
        var result = model.Fit(v, tolerance: 1e-7, maxIterations: 500);
        Assert.True(RelativeError(model.Reconstruction(result.Mass), v) < 0.1, $"error {RelativeError(model.Reconstruction(result.Mass), v)}");
        var two = new Siplca([1, 1, 12, 14], 3, [3, 3], new Generator(4));
        Assert.Equal([1, 3, 3, 3], two.W.shape);
        Assert.Equal([1, 3, 10, 12], two.H.shape);
        Assert.Equal(1.0, two.forward().Values().Sum(x => (double)x), 1e-4);
        Assert.Throws<InvalidOptionException>(() => new Siplca([1, 10, 3], 2, [4]));
    }

    [Fact]
    public void Plca_RejectsAnAllZeroV_AndNegativeValues()
    {
        var model = new Plca([4, 5], 2);
        Assert.Contains("all zeros", Assert.Throws<InvalidInputException>(() => model.Fit(zeros(4, 5))).Message);
        var negative = ones(4, 5);
        negative[1, 1] = tensor(-1f);
        Assert.Throws<InvalidInputException>(() => model.Fit(negative));
        Assert.Contains("(4, 6)", Assert.Throws<InvalidInputException>(() => model.EstimateActivations(ones(4, 6), 3)).Message);
    }
}
