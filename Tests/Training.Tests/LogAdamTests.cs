using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class LogAdamTests
{
    [Theory]
    [InlineData(LogAdamLoss.IDivergence)]
    [InlineData(LogAdamLoss.SquaredError)]
    public void Fit_ApproachesAPlantedFactorisation(LogAdamLoss loss)
    {
        var (v, _, _) = TestData.Planted(16, 24, rank: 3, seed: 4);
        // the squared error converges more slowly from the N(0, 1) start of ln W, ln H: over seeds 1–5 the relative
        // error after 6000 steps lay in 0.011–0.024 (the I-divergence: ≤ 0.0034 after 3000), half the bound below
        var steps = loss == LogAdamLoss.SquaredError ? 6000 : 3000;
        var result = LogAdam.Fit(v, new LogAdamOptions { Rank = 3, Steps = steps, LearningRate = 0.1, Loss = loss, Seed = 1 });
        Assert.True(result.History[^1] < 0.01 * result.History[0], $"loss {result.History[0]} → {result.History[^1]}");
        Assert.All(result.W.Data.Concat(result.H.Data), x => Assert.True(x > 0));
        var wh = Nmf.Product(result.W, result.H).Data;
        var error = Math.Sqrt(v.Data.Zip(wh, (a, b) => (double)(a - b) * (a - b)).Sum() / v.Data.Sum(a => (double)a * a));
        Assert.True(error < 0.05, $"relative error {error}");
        if (loss == LogAdamLoss.IDivergence)
        {
            // the log-domain loss is the generalised KL divergence (β = 1) of V and WH; the history holds the loss
            // before the last step, which the final factors improve on only slightly
            var kl = BetaDivergence.KlDivergence(v.Data, wh);
            Assert.InRange(kl, 0.5 * result.History[^1], result.History[^1] * 1.01 + 1e-4);
        }
    }

    [Fact]
    public void Fit_RejectsBadInput()
    {
        var (v, _, _) = TestData.Planted(4, 5, rank: 1, seed: 1);
        Assert.Throws<InvalidOptionException>(() => LogAdam.Fit(v, new LogAdamOptions { Rank = 0 }));
        v.Data[3] = -1;
        Assert.Throws<InvalidInputException>(() => LogAdam.Fit(v, new LogAdamOptions { Rank = 1 }));
    }
}
