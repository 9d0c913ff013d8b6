using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;
using static Pipeline.Training.Tests.GradientCheck;

namespace Pipeline.Training.Tests;

/// <summary>Every differentiable operation against central finite differences (see <see cref="GradientCheck"/>).</summary>
public class TensorGradientTests
{
    static readonly Dictionary<string, (Func<Tensor[], Tensor> F, Func<Tensor[]> Inputs)> Cases = new()
    {
        ["Add broadcast row"] = (t => t[0] + t[1], () => [Random(1, -1, 1, 3, 4), Random(2, -1, 1, 4)]),
        ["Sub broadcast column"] = (t => t[0] - t[1], () => [Random(1, -1, 1, 3, 4), Random(2, -1, 1, 3, 1)]),
        ["Mul outer broadcast"] = (t => t[0] * t[1], () => [Random(1, -1, 1, 3, 1), Random(2, -1, 1, 1, 4)]),
        ["Div broadcast 3-d"] = (t => t[0] / t[1], () => [Random(1, -1, 1, 2, 3, 4), Random(2, 0.5f, 2, 3, 1)]),
        ["Scalar add, mul, reciprocal"] = (t => (2f / (t[0] * 3f + 1.5f)) - 0.5f, () => [Random(1, 0.5f, 2, 3, 4)]),
        ["Neg"] = (t => -t[0], () => [Random(1, -1, 1, 5)]),
        ["Exp"] = (t => t[0].Exp(), () => [Random(1, -1, 1, 3, 4)]),
        ["Log"] = (t => t[0].Log(), () => [Random(1, 0.5f, 2, 3, 4)]),
        ["Pow 3"] = (t => t[0].Pow(3f), () => [Random(1, -1, 1, 3, 4)]),
        ["Pow 0.5"] = (t => t[0].Pow(0.5f), () => [Random(1, 0.5f, 2, 3, 4)]),
        ["Square"] = (t => t[0].Square(), () => [Random(1, -1, 1, 3, 4)]),
        ["Sqrt"] = (t => t[0].Sqrt(), () => [Random(1, 0.5f, 2, 3, 4)]),
        ["Abs"] = (t => t[0].Abs(), () => [AwayFromZero(1, 3, 4)]),
        ["Relu"] = (t => t[0].Relu(), () => [AwayFromZero(1, 3, 4)]),
        ["Sigmoid"] = (t => t[0].Sigmoid(), () => [Random(1, -3, 3, 3, 4)]),
        ["Tanh"] = (t => t[0].Tanh(), () => [Random(1, -2, 2, 3, 4)]),
        ["Softplus"] = (t => t[0].Softplus(), () => [Random(1, -4, 4, 3, 4)]),
        ["Softplus above threshold"] = (t => t[0].Softplus(threshold: 1f), () => [Random(1, 1.5f, 3, 6)]),
        ["Clamp"] = (t => t[0].Clamp(-0.5f, 0.5f), () => [Tensor.FromArray([-0.9f, -0.3f, 0.1f, 0.35f, 0.8f, 1.2f], 6)]),
        ["Sum all"] = (t => t[0].Sum(), () => [Random(1, -1, 1, 3, 4)]),
        ["Sum axes keepdim"] = (t => t[0].Sum([0, 2], keepDim: true), () => [Random(1, -1, 1, 2, 3, 4)]),
        ["Mean axis"] = (t => t[0].Mean(1), () => [Random(1, -1, 1, 2, 3, 4)]),
        ["Max axis"] = (t => t[0].Max(1), () => [Tensor.FromArray([0.1f, 0.9f, -0.5f, 0.4f, -0.8f, 0.2f, 0.7f, -0.1f, 0.5f, -0.6f, 0.3f, 0.0f], 3, 4)]),
        ["LogSumExp axis 0"] = (t => t[0].LogSumExp(0), () => [Random(1, -2, 2, 3, 4)]),
        ["LogSumExp last axis keepdim"] = (t => t[0].LogSumExp(-1, keepDim: true), () => [Random(1, -2, 2, 2, 3, 4)]),
        ["Reshape then mul"] = (t => t[0].Reshape(4, -1) * t[1], () => [Random(1, -1, 1, 2, 6), Random(2, -1, 1, 4, 3)]),
        ["Permute"] = (t => t[0].Permute(2, 0, 1) * t[1], () => [Random(1, -1, 1, 2, 3, 4), Random(2, -1, 1, 4, 2, 3)]),
        ["Transpose"] = (t => t[0].Transpose(0, 1), () => [Random(1, -1, 1, 3, 5)]),
        ["Slice axis 1"] = (t => t[0].Slice(1, 1, 2).Square(), () => [Random(1, -1, 1, 3, 4)]),
        ["Slice rows (view)"] = (t => t[0].Slice(0, 1, 2).Square(), () => [Random(1, -1, 1, 3, 4)]),
        ["Concat"] = (t => Tensor.Concat([t[0], t[1].Square()], 1), () => [Random(1, -1, 1, 2, 3), Random(2, -1, 1, 2, 2)]),
        ["Pad zeros 2-d"] = (t => t[0].Pad([1, 2, 2, 0]).Square(), () => [Random(1, -1, 1, 2, 3, 4)]),
        ["Pad reflect"] = (t => t[0].Pad([2, 3], PadMode.Reflect).Square(), () => [Random(1, -1, 1, 2, 5)]),
        ["IndexSelect with repeats"] = (t => t[0].IndexSelect(0, [2, 0, 2, 1]).Square(), () => [Random(1, -1, 1, 3, 4)]),
        ["IndexSelect axis 1"] = (t => t[0].IndexSelect(1, [3, 1]), () => [Random(1, -1, 1, 2, 4, 2)]),
        ["Expand"] = (t => t[0].Expand(3, 4).Square(), () => [Random(1, -1, 1, 3, 1)]),
        ["MatMul"] = (t => t[0].MatMul(t[1]), () => [Random(1, -1, 1, 3, 4), Random(2, -1, 1, 4, 5)]),
        ["MatMul batched"] = (t => t[0].MatMul(t[1]), () => [Random(1, -1, 1, 2, 3, 4), Random(2, -1, 1, 2, 4, 5)]),
        ["MatMul batched by matrix"] = (t => t[0].MatMul(t[1]), () => [Random(1, -1, 1, 2, 3, 4), Random(2, -1, 1, 4, 5)]),
        ["MatMul matrix by batched"] = (t => t[0].MatMul(t[1]), () => [Random(1, -1, 1, 3, 4), Random(2, -1, 1, 2, 4, 5)]),
        ["Linear"] = (t => Tensor.Linear(t[0], t[1], t[2]), () => [Random(1, -1, 1, 5, 4), Random(2, -1, 1, 3, 4), Random(3, -1, 1, 3)]),
        ["Conv1d"] = (t => Tensor.Conv1d(t[0], t[1], t[2]), () => [Random(1, -1, 1, 2, 3, 7), Random(2, -1, 1, 4, 3, 3), Random(3, -1, 1, 4)]),
        ["Conv1d stride padding dilation"] = (t => Tensor.Conv1d(t[0], t[1], null, stride: 2, padding: 2, dilation: 2),
            () => [Random(1, -1, 1, 2, 2, 9), Random(2, -1, 1, 3, 2, 3)]),
        ["Conv1d plain (shifted products)"] = (t => Tensor.Conv1d(t[0], t[1]), () => [Random(1, -1, 1, 2, 3, 7), Random(2, -1, 1, 4, 3, 3)]),
        ["ConvTranspose1d plain (shifted products)"] = (t => Tensor.ConvTranspose1d(t[0], t[1]), () => [Random(1, -1, 1, 2, 3, 6), Random(2, -1, 1, 3, 2, 4)]),
        ["ConvTranspose2d plain (direct rows)"] = (t => Tensor.ConvTranspose2d(t[0], t[1]), () => [Random(1, -1, 1, 2, 3, 4, 5), Random(2, -1, 1, 3, 2, 2, 3)]),
        ["Conv2d"] = (t => Tensor.Conv2d(t[0], t[1], t[2], padding: 1), () => [Random(1, -1, 1, 1, 2, 5, 4), Random(2, -1, 1, 3, 2, 3, 2), Random(3, -1, 1, 3)]),
        ["Conv3d"] = (t => Tensor.Conv3d(t[0], t[1], null, stride: 2, padding: 1), () => [Random(1, -1, 1, 1, 2, 4, 3, 4), Random(2, -1, 1, 2, 2, 2, 2, 2)]),
        ["ConvTranspose1d"] = (t => Tensor.ConvTranspose1d(t[0], t[1], t[2]), () => [Random(1, -1, 1, 2, 3, 6), Random(2, -1, 1, 3, 2, 4), Random(3, -1, 1, 2)]),
        ["ConvTranspose1d stride padding"] = (t => Tensor.ConvTranspose1d(t[0], t[1], null, stride: 2, padding: 1, outputPadding: 1),
            () => [Random(1, -1, 1, 1, 2, 5), Random(2, -1, 1, 2, 3, 3)]),
        ["ConvTranspose2d"] = (t => Tensor.ConvTranspose2d(t[0], t[1], t[2], stride: 2), () => [Random(1, -1, 1, 1, 2, 3, 3), Random(2, -1, 1, 2, 2, 2, 3), Random(3, -1, 1, 2)]),
        ["ConvTranspose3d"] = (t => Tensor.ConvTranspose3d(t[0], t[1], null, dilation: 2), () => [Random(1, -1, 1, 1, 2, 2, 3, 2), Random(2, -1, 1, 2, 1, 2, 2, 2)]),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Backward_MatchesFiniteDifferences(string name)
    {
        var (f, inputs) = Cases[name];
        GradientCheck.Verify(f, inputs());
    }
}
