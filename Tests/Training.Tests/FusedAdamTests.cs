using Pipeline.Training.Engine;
using Pipeline.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Tests;

/// <summary>The fused CPU step is TorchSharp's Adam (its checkpoints resume bit for bit: AutoencoderTrainerTests).</summary>
[Collection(LibTorchCollection.Name)]
public class FusedAdamTests
{
    static float[] Values(nn.Module model) => model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-2)]
    public void Steps_EqualTorchSharpsAdam(double weightDecay)
    {
        // an odd width (37) leaves a tail after the vector loop; BatchNorm makes the gradients uneven. Without dropout:
        // with it, 200 steps amplify last-bit differences chaotically (0.02 apart after 200 steps, 1e-6 after 5).
        using var data = randn([64, 37], generator: new Generator(3));
        float[] Train(bool fused, int steps = 50, double dropout = 0)
        {
            manual_seed(5);
            using var model = new Autoencoder(37, [19, 5], dropout: dropout);
            using optim.Optimizer adam = fused
                ? new FusedAdam(model.parameters(), lr: 1e-2, weight_decay: weightDecay)
                : optim.Adam(model.parameters(), lr: 1e-2, weight_decay: weightDecay);
            manual_seed(6);
            for (var step = 0; step < steps; step++)
                using (NewDisposeScope())
                {
                    adam.zero_grad();
                    nn.functional.mse_loss(model.forward(data), data).backward();
                    adam.step();
                }
            return Values(model);
        }
        var expected = Train(fused: false);
        var actual = Train(fused: true);
        // float32 rounding differs in the last bit of a step (the order of the products): one step agrees to about
        // an ulp of |θ| ≤ 1 (1.2e-7); 50 steps, each feeding the next gradient, were measured at 3e-6
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst < 1e-5, $"largest parameter difference after 50 steps {worst}");
        var oneStep = Train(false, steps: 1).Zip(Train(true, steps: 1), (e, a) => Math.Abs(e - a)).Max();
        Assert.True(oneStep <= 2.4e-7, $"largest parameter difference after one step {oneStep}");
    }

    [Fact]
    public void AnotherTypeOrAmsgrad_IsTorchSharpsStepUnchanged()
    {
        using var x = randn([8, 3], dtype: float64, generator: new Generator(1));
        using var weight = nn.Parameter(ones([3], dtype: float64));
        using var reference = nn.Parameter(ones([3], dtype: float64));
        using var fused = new FusedAdam([weight], lr: 0.1);
        using var plain = optim.Adam([reference], lr: 0.1);
        for (var step = 0; step < 5; step++)
        {
            foreach (var (p, opt) in new[] { (weight, (optim.Optimizer)fused), (reference, plain) })
                using (NewDisposeScope())
                {
                    opt.zero_grad();
                    x.matmul(p).square().sum().backward();
                    opt.step();
                }
        }
        Assert.Equal(reference.data<double>().ToArray(), weight.data<double>().ToArray());
    }
}
