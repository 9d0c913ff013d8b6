using Pipeline.Shared.Errors;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class BetaMuTests
{
    /// <summary>V = NMFD(W, H) for planted non-negative factors (strictly positive, so every β applies).</summary>
    static (Tensor V, Nmfd Truth) Planted(int seed)
    {
        var truth = new Nmfd([1, 12, 40], rank: 3, window: 4, generator: new Generator((ulong)seed));
        Tensor v;
        using (no_grad()) v = truth.forward().detach() + 0.01f;
        return (v, truth);
    }

    static List<double> Steps(BetaMu trainer, Func<Tensor> model, Tensor v, int count) =>
        Enumerable.Range(0, count).Select(_ => trainer.step(() => (model(), v)).item<double>()).ToList();

    [Theory]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    public void Updates_NeverIncreaseTheLoss_ForBetaBetweenOneAndTwo(double beta)
    {
        var (v, _) = Planted(1);
        var model = new Nmfd([1, 12, 40], 3, 4, new Generator(7));
        var losses = Steps(new BetaMu(model.parameters(), beta), model.forward, v, 40);
        // a theorem for β in [1, 2] (the step is a majorise-minimise step); float32 rounding allows 1e-5 relative
        for (var i = 1; i < losses.Count; i++) Assert.True(losses[i] <= losses[i - 1] * (1 + 1e-5) + 1e-9, $"β = {beta}: step {i} raised the loss {losses[i - 1]} → {losses[i]}");
        Assert.True(losses[^1] < 0.2 * losses[0]);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(3.0)]
    public void Updates_DoNotDiverge_ForOtherBeta(double beta)
    {
        var (v, _) = Planted(2);
        var model = new Nmfd([1, 12, 40], 3, 4, new Generator(8));
        var losses = Steps(new BetaMu(model.parameters(), beta), model.forward, v, 40);
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < losses[0]);
        Assert.All(model.W.Values().Concat(model.H.Values()), x => Assert.True(x >= 0 && float.IsFinite(x)));
    }

    [Fact]
    public void Nmfd_RecoversAPlantedDeconvolution()
    {
        var (v, _) = Planted(3);
        var model = new Nmfd([1, 12, 40], 3, 4, new Generator(9));
        var trainer = new BetaMu(model.parameters(), beta: 2);
        for (var i = 0; i < 1500; i++) trainer.step(() => (model.forward(), v)).Dispose();
        // ‖V − V̂‖ / ‖V‖: the planted model is exact, so the fit must come close
        var y = model.forward().Values();
        var x = v.Values();
        var error = Math.Sqrt(x.Zip(y, (a, b) => (double)(a - b) * (a - b)).Sum() / x.Sum(a => (double)a * a));
        Assert.True(error < 0.02, $"relative reconstruction error {error}");
    }

    [Fact]
    public void Nmfd_IsTheDeconvolutionSum()
    {
        var model = new Nmfd([1, 5, 9], 2, 3, new Generator(4));
        var y = model.forward();
        for (var i = 0; i < 5; i++)
            for (var j = 0; j < 9; j++)
            {
                double s = 0;
                for (var t = 0; t < 3; t++)
                    for (var r = 0; r < 2; r++)
                        if (j - t >= 0 && j - t < 7) s += model.W.At(i, r, t) * model.H.At(0, r, j - t);
                Assert.Equal(s, y.At(0, i, j), 1e-5);
            }
        Assert.Throws<InvalidOptionException>(() => new Nmfd([1, 5, 3], 2, 4));
    }

    [Fact]
    public void FixedTemplates_StayUntouched()
    {
        var (v, truth) = Planted(5);
        var model = new Nmfd([1, 12, 40], 3, 4, new Generator(6), w: truth.W, trainableW: false);
        var before = model.W.Values();
        Steps(new BetaMu(model.parameters(), beta: 1), model.forward, v, 20);
        Assert.Equal(before, model.W.Values());
        Assert.False(model.W.requires_grad);
        Assert.True(model.H.requires_grad);
    }

    /// <summary>torchnmf's "model concatenation": three NMF modules in a chain, trained end to end by one BetaMu.</summary>
    [Fact]
    public void ChainOfThreeNmfModules_TrainsEndToEnd()
    {
        (NmfComponent, NmfComponent, NmfComponent) MakeChain(Generator g) => (
            new NmfComponent([50, 6], rank: 3, generator: g),    // (50, 6) = H₁·W₁ᵀ
            new NmfComponent([50, 10], rank: 6, generator: g),   // uses only its W (10, 6)
            new NmfComponent([50, 16], rank: 10, generator: g)); // uses only its W (16, 10)
        static Tensor Run((NmfComponent First, NmfComponent Second, NmfComponent Third) c) =>
            c.Third.Reconstruct(c.Second.Reconstruct(c.First.forward(), c.Second.W), c.Third.W);
        Tensor v;
        using (no_grad()) v = Run(MakeChain(new Generator(11))).detach(); // a V the chain can represent
        var chain = MakeChain(new Generator(12));
        var trainer = new BetaMu([chain.Item1.W, chain.Item1.H, chain.Item2.W, chain.Item3.W], beta: 1);
        var losses = Steps(trainer, () => Run(chain), v, 100);
        // each update is a majorise-minimise step in one factor with the others fixed: the loss cannot rise
        for (var i = 1; i < losses.Count; i++) Assert.True(losses[i] <= losses[i - 1] * (1 + 1e-5) + 1e-9, $"step {i} raised the loss");
        Assert.True(losses[^1] < 0.05 * losses[0], $"loss {losses[0]} → {losses[^1]}");
        Assert.Contains("(50, 15)", Assert.Throws<InvalidInputException>(() => trainer.step(() => (Run(chain), ones(50, 15)))).Message);
        // a middle module whose rank does not match the first module's output width is refused, naming both shapes
        var wrong = new NmfComponent([50, 10], rank: 5, generator: new Generator(13));
        var mismatch = Assert.Throws<InvalidInputException>(() => wrong.Reconstruct(chain.Item1.forward(), wrong.W));
        Assert.Contains("(50, 6)", mismatch.Message);
        Assert.Contains("(10, 5)", mismatch.Message);
        // BetaMu's step takes (prediction, target), not a loss
        Assert.Throws<InvalidOperationException>(() => trainer.step(() => v));
    }

    [Fact]
    public void Nmf2dAndNmf3d_HaveTorchnmfsShapes_AndTrain()
    {
        var m2 = new Nmf2d([1, 1, 33, 50], 16, (3, 3), new Generator(1));
        Assert.Equal([1, 16, 3, 3], m2.W.shape);
        Assert.Equal([1, 16, 31, 48], m2.H.shape);
        Assert.Equal([1, 1, 33, 50], m2.forward().shape);
        var m3 = new Nmf3d([1, 3, 8, 8, 10], 4, (2, 3, 4), new Generator(2));
        Assert.Equal([3, 4, 2, 3, 4], m3.W.shape);
        Assert.Equal([1, 4, 7, 6, 7], m3.H.shape);
        Assert.Equal([1, 3, 8, 8, 10], m3.forward().shape);
        // V[0, 0, l, m] = Σ_{r, a, b} W[0, r, a, b]·H[0, r, l − a, m − b]
        var small = new Nmf2d([1, 1, 5, 6], 2, (2, 3), new Generator(3));
        var y = small.forward();
        for (var l = 0; l < 5; l++)
            for (var m = 0; m < 6; m++)
            {
                double s = 0;
                for (var r = 0; r < 2; r++)
                    for (var a = 0; a < 2; a++)
                        for (var b = 0; b < 3; b++)
                            if (l - a >= 0 && l - a < 4 && m - b >= 0 && m - b < 4) s += small.W.At(0, r, a, b) * small.H.At(0, r, l - a, m - b);
                Assert.Equal(s, y.At(0, 0, l, m), 1e-5);
            }
        var target = new Nmf2d([1, 1, 12, 14], 2, (3, 3), new Generator(4));
        Tensor v;
        using (no_grad()) v = target.forward().detach() + 0.01f;
        var model = new Nmf2d([1, 1, 12, 14], 2, (3, 3), new Generator(5));
        var losses = Steps(new BetaMu(model.parameters(), beta: 1), model.forward, v, 60);
        for (var i = 1; i < losses.Count; i++) Assert.True(losses[i] <= losses[i - 1] * (1 + 1e-5) + 1e-9);
        Assert.True(losses[^1] < 0.3 * losses[0]);
        Assert.Throws<InvalidOptionException>(() => new Nmf2d([1, 1, 4, 4], 2, (5, 2)));
    }

    [Fact]
    public void ComponentFit_StopsOnTolerance_AndLowersTheLoss()
    {
        var (v, _) = Planted(7);
        var model = new Nmfd([1, 12, 40], 3, 4, new Generator(3));
        var losses = new List<double>();
        var iterations = model.Fit(v, beta: 1, tolerance: 1e-3, maxIterations: 500, progress: new Progress(losses));
        Assert.InRange(iterations, 10, 499);
        Assert.Equal(iterations, losses.Count);
        Assert.True(losses[^1] < 0.2 * losses[0]);
        var negative = v.clone();
        negative[0, 0, 0] = tensor(-1f);
        Assert.Contains("negative", Assert.Throws<InvalidInputException>(() => model.Fit(negative)).Message);
        var nan = v.clone();
        nan[0, 1, 1] = tensor(float.NaN);
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => model.Fit(nan)).Message);
        var zero = v.clone();
        zero[0, 1, 1] = tensor(0f);
        Assert.Contains("strictly positive", Assert.Throws<InvalidInputException>(() => model.Fit(zero, beta: 0)).Message);
        Assert.Throws<InvalidOptionException>(() => model.Fit(v, l1Ratio: 2));
        Assert.Throws<InvalidInputException>(() => model.Fit(ones(1, 12, 41)));
    }

    [Fact]
    public void DeconvolutionSparseFit_HoldsEachWholeTemplateAtTheRequestedSparseness()
    {
        // NMF2D on one spectrogram: W (1, R, K₁, K₂) and H (1, R, …) have a single entry on axis 0, so sparseness is
        // measured over each component's whole template and activation map
        var truth = new Nmf2d([1, 1, 12, 16], 2, (3, 4), new Generator(20));
        Tensor v;
        using (no_grad()) v = truth.forward().detach() + 0.01f;
        var model = new Nmf2d([1, 1, 12, 16], 2, (3, 4), new Generator(21));
        model.SparseFit(v, beta: 1, maxIterations: 20, sW: 0.5, sH: 0.6);
        for (var r = 0; r < 2; r++)
        {
            Assert.Equal(0.5, BetaDivergence.Sparseness(model.W.Values().Skip(r * 12).Take(12).ToArray()), 1e-3);
            Assert.Equal(0.6, BetaDivergence.Sparseness(model.H.Values().Skip(r * 130).Take(130).ToArray()), 1e-3);
        }
    }

    [Fact]
    public void ComponentSparseFit_HoldsHAtTheRequestedSparseness()
    {
        var (v, _, _) = Pipeline.Tests.TestData.Planted(20, 30, rank: 4, seed: 9);
        var model = new NmfComponent([30, 20], 4, new Generator(1));
        var losses = new List<double>();
        model.SparseFit(TorchArrays.FromNdArray(v).t(), beta: 2, maxIterations: 40, sH: 0.7, progress: new Progress(losses));
        for (var r = 0; r < 4; r++)
            Assert.Equal(0.7, BetaDivergence.Sparseness(Enumerable.Range(0, 30).Select(n => (float)model.H.At(n, r)).ToArray()), 1e-3);
        Assert.Equal(40, losses.Count);
        Assert.True(losses[^1] < losses[0]);
    }

    [Fact]
    public void OrthogonalPenalty_PullsComponentsApart()
    {
        var (v, _, _) = Pipeline.Tests.TestData.Planted(20, 30, rank: 4, seed: 10);
        var data = TorchArrays.FromNdArray(v).t();
        double Overlap(NmfComponent m)
        {
            var w = m.W.Values(); // (20, 4)
            double total = 0;
            for (var a = 0; a < 4; a++)
                for (var b = a + 1; b < 4; b++)
                {
                    double dot = 0, na = 0, nb = 0;
                    for (var c = 0; c < 20; c++) { dot += w[c * 4 + a] * w[c * 4 + b]; na += w[c * 4 + a] * w[c * 4 + a]; nb += w[c * 4 + b] * w[c * 4 + b]; }
                    if (na > 0 && nb > 0) total += dot / Math.Sqrt(na * nb); // a column the penalty emptied overlaps nothing
                }
            return total;
        }
        var plain = new NmfComponent([30, 20], 4, new Generator(4));
        var penalised = new NmfComponent([30, 20], 4, new Generator(4));
        Steps(new BetaMu(plain.parameters(), beta: 2), plain.forward, data, 100);
        Steps(new BetaMu(penalised.parameters(), beta: 2, orthogonal: 0.5), penalised.forward, data, 100);
        Assert.True(Overlap(penalised) < Overlap(plain), $"overlap {Overlap(penalised)} vs {Overlap(plain)} without the penalty");
        Assert.Throws<InvalidOptionException>(() => new BetaMu(plain.parameters(), beta: 2, l1: -1));
    }

    sealed class Progress(List<double> sink) : IProgress<(int Iteration, double Loss)>
    {
        public void Report((int Iteration, double Loss) value) => sink.Add(value.Loss);
    }
}
