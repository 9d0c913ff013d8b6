using Pipeline.Training.Checkpoints;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Tests;

/// <summary>
/// Same initial weights, same batches, same Adam settings as PyTorch 1.13 (fixtures made by
/// Fixtures/make_torch_parity.py): the parameters and running statistics after every step agree within 1e-5
/// relative (to each tensor's largest magnitude).
/// </summary>
public class TorchParityTests
{
    [Theory]
    [InlineData("torch_parity_batchnorm.safetensors")]
    [InlineData("torch_parity_relu_stack.safetensors")]
    public void AdamSteps_MatchPyTorch(string file)
    {
        var fixture = SafeTensors.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", file));
        var t = fixture.Tensors;
        var meta = fixture.Metadata;
        Module model = meta["architecture"] switch
        {
            "Linear(6,16) ReLU BatchNorm1d(16) Linear(16,5)" => new Sequential(new Linear(6, 16), new ReLU(), new BatchNorm1d(16), new Linear(16, 5)),
            "Linear(8,12) ReLU Linear(12,10) ReLU Linear(10,8)" => new Sequential(new Linear(8, 12), new ReLU(), new Linear(12, 10), new ReLU(), new Linear(10, 8)),
            var other => throw new InvalidOperationException($"unknown fixture architecture {other}"),
        };
        model.LoadStateDict(Prefixed(t, "init."));
        var adam = new Adam(model.Parameters(), double.Parse(meta["lr"], System.Globalization.CultureInfo.InvariantCulture),
            weightDecay: double.Parse(meta["weight_decay"], System.Globalization.CultureInfo.InvariantCulture));
        var steps = int.Parse(meta["steps"], System.Globalization.CultureInfo.InvariantCulture);
        for (var k = 0; k < steps; k++)
        {
            adam.ZeroGrad();
            var loss = Losses.Mse(model.Forward(t[$"batch.{k}.x"]), t[$"batch.{k}.y"]);
            Assert.Equal(t["loss"][k], loss.Item(), 1e-5 * Math.Abs(t["loss"][k]));
            loss.Backward();
            adam.Step();
        }
        foreach (var (name, actual) in model.StateDict())
        {
            var expected = t["final." + name].ToArray();
            var error = Pipeline.Tests.TestData.MaxRelativeError(actual.ToArray(), expected);
            Assert.True(error <= 1e-5, $"{name}: relative difference {error:G3} from PyTorch");
        }
    }

    static Dictionary<string, Tensor> Prefixed(IReadOnlyDictionary<string, Tensor> tensors, string prefix) =>
        tensors.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(e => e.Key[prefix.Length..], e => e.Value);
}
