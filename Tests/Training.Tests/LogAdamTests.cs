using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;

namespace Pipeline.Training.Tests;

public class LogAdamTests
{
    [Theory]
    [InlineData(LogAdamLoss.IDivergence)]
    [InlineData(LogAdamLoss.SquaredError)]
    public void Fit_ApproachesAPlantedFactorisation(LogAdamLoss loss)
    {
        var (v, _, _) = TestData.Planted(16, 24, rank: 3, seed: 4);
        var result = LogAdam.Fit(v, new LogAdamOptions { Rank = 3, Steps = 3000, LearningRate = 0.1, Loss = loss, Seed = 1 });
        Assert.True(result.History[^1] < 0.01 * result.History[0], $"loss {result.History[0]} → {result.History[^1]}");
        Assert.All(result.W.Data.Concat(result.H.Data), x => Assert.True(x > 0));
        var wh = new float[16 * 24];
        Linalg.Blas.MatMul(result.W.Data, result.H.Data, wh, 16, 3, 24);
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
