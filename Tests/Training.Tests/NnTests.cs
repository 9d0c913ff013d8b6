using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;
using static Pipeline.Training.Tests.GradientCheck;

namespace Pipeline.Training.Tests;

public class NnTests
{
    static Sequential SmallMlp(Generator g) =>
        new(new Linear(4, 6, generator: g), new BatchNorm1d(6), new ReLU(), new Dropout(0.2f, g), new Linear(6, 3, generator: g));

    [Fact]
    public void Module_NamesParametersAndBuffersLikePyTorch()
    {
        var model = SmallMlp(new Generator(1));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(["1.running_mean", "1.running_var", "1.num_batches_tracked"], model.NamedBuffers().Select(b => b.Name));
        Assert.Equal(4 * 6 + 6 + 6 + 6 + 6 * 3 + 3, model.ParameterCount);
        Assert.Contains("Linear(in=4, out=6, bias=True)", model.ToString());
        model.Eval();
        Assert.False(model[3].IsTraining);
        model.Train();
        Assert.True(model[1].IsTraining);
    }

    [Fact]
    public void Linear_InitialisesWithinPyTorchsBound()
    {
        var layer = new Linear(25, 40, generator: new Generator(2));
        Assert.All(layer.Weight.ToArray(), w => Assert.InRange(w, -0.2f, 0.2f));
        Assert.All(layer.Bias!.ToArray(), b => Assert.InRange(b, -0.2f, 0.2f));
        Assert.True(layer.Weight.ToArray().Max() > 0.15f); // the whole range is used
        Assert.Throws<InvalidInputException>(() => layer.Forward(Tensor.Zeros(3, 24)));
    }

    [Fact]
    public void BatchNorm_UpdatesRunningStatisticsAsPyTorch()
    {
        var bn = new BatchNorm1d(2);
        var x = Tensor.FromArray([1f, 10f, 2f, 20f, 3f, 60f], 3, 2);
        var y = bn.Forward(x);
        // batch mean (2, 30); biased variance (2/3, 1400/3); unbiased (1, 700)
        Assert.Equal([0.1f * 2, 0.1f * 30], bn.RunningMean.ToArray());
        Assert.Equal(0.9 + 0.1 * 1, bn.RunningVar[0], 1e-6);
        Assert.Equal(0.9 + 0.1 * 700, bn.RunningVar[1], 1e-4);
        Assert.Equal(1f, bn.NumBatchesTracked.Item());
        Assert.Equal(-1 / Math.Sqrt(2.0 / 3 + 1e-5), y[0, 0], 1e-5);
        // evaluation mode uses the running estimates and leaves them alone
        bn.Eval();
        var e = bn.Forward(Tensor.FromArray([0.2f, 3f], 1, 2));
        Assert.Equal(0, e[0, 0], 1e-6);
        Assert.Equal(1f, bn.NumBatchesTracked.Item());
        bn.Train();
        Assert.Throws<InvalidInputException>(() => bn.Forward(Tensor.Zeros(1, 2)));
    }

    [Fact]
    public void Dropout_DropsAboutPAndScalesTheRest_OnlyInTraining()
    {
        var dropout = new Dropout(0.2f, new Generator(3));
        var y = dropout.Forward(Tensor.Ones(100_000)).ToArray();
        var dropped = y.Count(v => v == 0) / 100_000.0;
        Assert.InRange(dropped, 0.2 - 5 * 0.00127, 0.2 + 5 * 0.00127); // 5 binomial standard errors
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1.25f, v));
        dropout.Eval();
        Assert.All(dropout.Forward(Tensor.Ones(10)).ToArray(), v => Assert.Equal(1f, v));
        Assert.Throws<InvalidOptionException>(() => new Dropout(1.5f));
    }

    [Fact]
    public void Losses_MatchTheirFormulas()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var y = Tensor.FromArray([0f, 2f, 5f, 4f], 2, 2);
        Assert.Equal(5f / 4, Losses.Mse(x, y).Item(), 1e-6);
        Assert.Equal(5f, Losses.Mse(x, y, Reduction.Sum).Item(), 1e-6);
        Assert.Equal([1f, 0f, 4f, 0f], Losses.Mse(x, y, Reduction.None).ToArray());

        var variance = Tensor.FromArray([0.5f, 2f], 2, 1);
        double expected = 0;
        double[] v = [0.5, 0.5, 2, 2], d = [1, 0, -2, 0];
        for (var i = 0; i < 4; i++) expected += 0.5 * (Math.Log(v[i]) + d[i] * d[i] / v[i]) + 0.5 * Math.Log(2 * Math.PI);
        Assert.Equal(expected / 4, Losses.GaussianNll(x, y, variance, full: true).Item(), 1e-5);
        Assert.Throws<InvalidInputException>(() => Losses.GaussianNll(x, y, Tensor.Full(-1f, 2, 1)));

        // KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − ln σ²) per dimension
        var mu = Tensor.FromArray([0f, 0f, 1f, 0.5f], 2, 2);
        var logVar = Tensor.FromArray([0f, 0f, 0f, MathF.Log(2f)], 2, 2);
        var kl = Losses.KlToStandardNormal(mu, logVar, Reduction.None).ToArray();
        Assert.Equal(0f, kl[0], 1e-6);
        Assert.Equal(0.5 * 1 + 0.5 * (0.25 + 2 - 1 - Math.Log(2)), kl[1], 1e-6);
        Assert.Throws<InvalidInputException>(() => Losses.Mse(x, Tensor.Zeros(4)));
    }

    [Fact]
    public void LoadStateDict_NamesTheFirstMismatchAndChangesNothing()
    {
        var a = SmallMlp(new Generator(1));
        var b = new Sequential(new Linear(4, 6, generator: new Generator(2)), new BatchNorm1d(6), new ReLU(), new Dropout(0.2f), new Linear(6, 2));
        var before = b.Parameters()[0].ToArray();
        var state = a.StateDict().ToDictionary(e => e.Key, e => e.Value);
        var error = Assert.Throws<InvalidInputException>(() => b.LoadStateDict(state));
        Assert.Contains("'4.weight'", error.Message);
        Assert.Contains("[3, 6]", error.Message);
        Assert.Contains("[2, 6]", error.Message);
        Assert.Equal(before, b.Parameters()[0].ToArray());
        state.Remove("1.running_var");
        Assert.Contains("'1.running_var'", Assert.Throws<InvalidInputException>(() => SmallMlp(new Generator(3)).LoadStateDict(state)).Message);
    }

    [Fact]
    public void Sequential_GradientsMatchFiniteDifferences()
    {
        var g = new Generator(4);
        var model = new Sequential(new Linear(3, 5, generator: g), new Tanh(), new Linear(5, 2, generator: g), new Sigmoid());
        var w = model.Parameters()[0];
        Verify(t => model.Forward(t[0]), [Random(5, -1, 1, 4, 3)], [true]);
        Assert.NotNull(w.Grad);
    }
}
