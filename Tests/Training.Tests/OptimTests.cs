using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Tests;

/// <summary>Optimiser updates against their closed forms, written out in double precision.</summary>
public class OptimTests
{
    sealed class Holder : Module
    {
        public Parameter P { get; }
        public Holder(float[] values) => P = RegisterParameter("p", Tensor.FromArray(values, values.Length));
        public override Tensor Forward(Tensor input) => input;
    }

    static Holder WithGradient(float[] values, float[] gradient)
    {
        var h = new Holder(values);
        h.P.Grad = Tensor.FromArray(gradient, gradient.Length);
        return h;
    }

    [Fact]
    public void Sgd_MomentumAndWeightDecay_FollowPyTorchsRecurrence()
    {
        var h = WithGradient([1f, -2f], [0.5f, 0.25f]);
        var sgd = new Sgd(h.Parameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 0.01);
        double[] p = [1, -2], b = [0, 0];
        for (var step = 0; step < 3; step++)
        {
            for (var i = 0; i < 2; i++)
            {
                var d = new[] { 0.5, 0.25 }[i] + 0.01 * p[i];
                b[i] = step == 0 ? d : 0.9 * b[i] + d;
                p[i] -= 0.1 * b[i];
            }
            sgd.Step();
        }
        Assert.Equal(p[0], h.P[0], 1e-6);
        Assert.Equal(p[1], h.P[1], 1e-6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Adam_MatchesItsDefinition(bool decoupled)
    {
        float[] grads = [0.3f, -1e-3f, 2f, 0f, -0.7f, 1.5f, 0.01f, -4f, 0.2f, 0.9f, -0.5f]; // more than one AVX2 width; none cancels its weight decay
        var h = WithGradient([.. grads.Select((_, i) => 0.1f * i - 0.5f)], grads);
        const double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var adam = decoupled ? new AdamW(h.Parameters(), lr, weightDecay: wd) : new Adam(h.Parameters(), lr, weightDecay: wd);
        var p = grads.Select((_, i) => 0.1 * i - 0.5).ToArray();
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (var t = 1; t <= 4; t++)
        {
            for (var i = 0; i < p.Length; i++)
            {
                var g = (double)grads[i];
                if (decoupled) p[i] *= 1 - lr * wd;
                else g += wd * p[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                p[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
            }
            adam.Step();
        }
        for (var i = 0; i < p.Length; i++) Assert.Equal(p[i], h.P[i], 1e-6);
    }

    [Fact]
    public void Optimisers_RejectBadHyperParameters()
    {
        var h = new Holder([1f]);
        Assert.Throws<InvalidOptionException>(() => new Adam(h.Parameters(), learningRate: -1));
        Assert.Throws<InvalidOptionException>(() => new Adam(h.Parameters(), beta1: 1.0));
        Assert.Throws<InvalidOptionException>(() => new Sgd(h.Parameters(), 0.1, nesterov: true));
        Assert.Throws<InvalidOptionException>(() => new Sgd([], 0.1));
    }

    [Fact]
    public void Schedules_GiveTheirClosedForms()
    {
        var adam = new Adam(new Holder([1f]).Parameters(), learningRate: 1e-4);
        var dcaseBaseline = LambdaSchedule.ConstantThenLinear(adam);
        Assert.Equal(1e-4, adam.LearningRate, 1e-12);
        // the seed's lambda: 1 up to epoch 100, then −0.0099·epoch + 1.99
        foreach (var epoch in new[] { 1, 100, 101, 150, 199, 200 })
            Assert.Equal(1e-4 * (epoch <= 100 ? 1 : -0.0099 * epoch + 1.99), dcaseBaseline.LearningRateAt(epoch), 1e-12);
        for (var i = 0; i < 200; i++) dcaseBaseline.Step();
        Assert.Equal(1e-6, adam.LearningRate, 1e-12);

        var sgd = new Sgd(new Holder([1f]).Parameters(), 1.0);
        var step = new StepSchedule(sgd, stepSize: 3, gamma: 0.5);
        Assert.Equal([1, 1, 1, 0.5, 0.5, 0.5, 0.25], Enumerable.Range(0, 7).Select(step.LearningRateAt));
        var cosine = new CosineSchedule(sgd, tMax: 10, etaMin: 0.1);
        Assert.Equal(1.0, cosine.LearningRateAt(0), 1e-12);
        Assert.Equal(0.55, cosine.LearningRateAt(5), 1e-12);
        Assert.Equal(0.1, cosine.LearningRateAt(10), 1e-12);
    }

    [Fact]
    public void ClipGradNorm_ScalesToTheLimitAndReportsTheNorm()
    {
        var a = WithGradient([0f, 0f], [3f, 0f]);
        var b = WithGradient([0f], [4f]);
        var norm = GradientClipping.ClipGradNorm([a.P, b.P], 1.0);
        Assert.Equal(5.0, norm, 1e-6);
        Assert.Equal(0.6, a.P.Grad![0], 1e-5);
        Assert.Equal(0.8, b.P.Grad![0], 1e-5);
        Assert.Equal(1.0, GradientClipping.ClipGradNorm([a.P, b.P], 2.0), 1e-5); // under the limit: unchanged
        Assert.Equal(0.6, a.P.Grad![0], 1e-5);
    }
}
