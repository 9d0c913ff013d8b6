using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class SparsityTests
{
    [Theory]
    [InlineData(0.2)]
    [InlineData(0.5)]
    [InlineData(0.8)]
    public void HoyerProjection_HitsTheTargetSparseness_WithTheSameNorm(double target)
    {
        var random = new Random(3);
        var x = Enumerable.Range(0, 40).Select(_ => random.NextDouble()).ToArray();
        var l2 = Math.Sqrt(x.Sum(v => v * v));
        var p = SparsityProj.HoyerProjection(x, target, l2);
        Assert.All(p, v => Assert.True(v >= 0));
        Assert.Equal(l2, Math.Sqrt(p.Sum(v => v * v)), 1e-9);
        Assert.Equal(target, BetaDivergence.Sparseness(p.Select(v => (float)v).ToArray()), 1e-4);
    }

    [Fact]
    public void SparseFit_ReachesTheRequestedSparseness_AndLowersTheLoss()
    {
        var (v, _, _) = TestData.Planted(20, 30, rank: 4, seed: 8);
        var data = TorchArrays.FromNdArray(v).t(); // NmfComponent takes (N, C)
        var model = new NmfComponent([30, 20], 4, new Generator(2));
        // H (N, R): constrain each component's activations (vectors along N, dim 0); W follows multiplicative updates
        var projection = new SparsityProj([model.H], sparsity: 0.6, dim: 0);
        var mu = new BetaMu([model.W], beta: 2);
        var losses = new List<double>();
        for (var i = 0; i < 60; i++)
        {
            losses.Add(projection.step(() => (model.forward() - data).square().sum() * 0.5f).item<double>());
            mu.step(() => (model.forward(), data)).Dispose();
        }
        Assert.True(losses[^1] < losses[0]);
        for (var r = 0; r < 4; r++)
        {
            var column = Enumerable.Range(0, 30).Select(n => (float)model.H.At(n, r)).ToArray();
            Assert.Equal(0.6, BetaDivergence.Sparseness(column), 1e-3);
        }
        foreach (var target in new[] { 1.2, 1.0, 0.0, -0.1, double.NaN })
            Assert.Contains("(0, 1)", Assert.Throws<InvalidOptionException>(() => new SparsityProj([model.H], target)).Message);
        Assert.Contains("(0, 1)", Assert.Throws<InvalidOptionException>(() => model.SparseFit(data, sW: 1.0)).Message);
    }
}
