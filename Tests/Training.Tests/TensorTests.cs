using Pipeline.Shared.Errors;
using Pipeline.Training.Tensors;
using static Pipeline.Training.Tests.GradientCheck;

namespace Pipeline.Training.Tests;

/// <summary>Forward values against direct definitions, autodiff bookkeeping, and error paths.</summary>
public class TensorTests
{
    static double Dot(Tensor a, Tensor b)
    {
        double s = 0;
        for (var i = 0; i < a.Count; i++) s += (double)a.Span[i] * b.Span[i];
        return s;
    }

    [Fact]
    public void MatMul_MatchesDirectSum()
    {
        var a = Random(1, -1, 1, 2, 3, 4);
        var b = Random(2, -1, 1, 2, 4, 5);
        var c = a.MatMul(b);
        Assert.Equal([2, 3, 5], c.Shape);
        for (var n = 0; n < 2; n++)
            for (var i = 0; i < 3; i++)
                for (var j = 0; j < 5; j++)
                {
                    double s = 0;
                    for (var k = 0; k < 4; k++) s += (double)a[n, i, k] * b[n, k, j];
                    Assert.Equal(s, c[n, i, j], 1e-5);
                }
    }

    [Fact]
    public void Conv2d_MatchesDirectDefinition()
    {
        var x = Random(1, -1, 1, 2, 3, 6, 5);
        var w = Random(2, -1, 1, 4, 3, 3, 2);
        var bias = Random(3, -1, 1, 4);
        const int stride = 2, pad = 1, dil = 2;
        var y = Tensor.Conv(x, w, bias, [stride, stride], [pad, pad], [dil, dil]);
        int oh = (6 + 2 * pad - dil * 2 - 1) / stride + 1, ow = (5 + 2 * pad - dil * 1 - 1) / stride + 1;
        Assert.Equal([2, 4, oh, ow], y.Shape);
        for (var n = 0; n < 2; n++)
            for (var o = 0; o < 4; o++)
                for (var i = 0; i < oh; i++)
                    for (var j = 0; j < ow; j++)
                    {
                        double s = bias[o];
                        for (var c = 0; c < 3; c++)
                            for (var ki = 0; ki < 3; ki++)
                                for (var kj = 0; kj < 2; kj++)
                                {
                                    int r = i * stride - pad + ki * dil, q = j * stride - pad + kj * dil;
                                    if (r >= 0 && r < 6 && q >= 0 && q < 5) s += (double)x[n, c, r, q] * w[o, c, ki, kj];
                                }
                        Assert.Equal(s, y[n, o, i, j], 1e-5);
                    }
    }

    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(1, 2, 1, 1)]
    [InlineData(2, 2, 1, 2)]
    [InlineData(3, 3, 2, 1)]
    public void ConvTranspose_IsTheAdjointOfConv(int spatialRank, int stride, int padding, int dilation)
    {
        // ⟨conv(x, w), y⟩ = ⟨x, convT(y, w)⟩ for every x, y: the defining property of the transposed convolution.
        var size = new[] { 7, 6, 5 }[..spatialRank];
        var kernel = new[] { 3, 2, 2 }[..spatialRank];
        var x = Random(1, -1, 1, [2, 3, .. size]);
        var w = Random(2, -1, 1, [4, 3, .. kernel]);
        var s = Enumerable.Repeat(stride, spatialRank).ToArray();
        var p = Enumerable.Repeat(padding, spatialRank).ToArray();
        var d = Enumerable.Repeat(dilation, spatialRank).ToArray();
        var cx = Tensor.Conv(x, w, null, s, p, d);
        var y = Random(3, -1, 1, [.. cx.Shape]);
        // the output padding that restores x's size
        var op = new int[spatialRank];
        for (var i = 0; i < spatialRank; i++)
            op[i] = size[i] - ((cx.Shape[2 + i] - 1) * stride - 2 * padding + dilation * (kernel[i] - 1) + 1);
        Assert.All(op, v => Assert.InRange(v, 0, Math.Max(stride, dilation) - 1));
        var ty = Tensor.ConvTranspose(y, w, null, s, p, op, d);
        Assert.Equal(x.Shape, ty.Shape);
        Assert.Equal(Dot(cx, y), Dot(x, ty), 1e-4);
    }

    [Fact]
    public void ShiftedProducts_EqualTheIm2ColPath()
    {
        // the plain 1-d case takes BLAS shifted products; a zero bias sends the same numbers down the im2col path
        var x = Random(1, -1, 1, 2, 5, 40);
        var w = Random(2, -1, 1, 6, 5, 7);
        Assert.True(Pipeline.Tests.TestData.MaxRelativeError(Tensor.Conv1d(x, w).ToArray(), Tensor.Conv1d(x, w, Tensor.Zeros(6)).ToArray()) < 1e-5);
        var h = Random(3, -1, 1, 2, 6, 34);
        Assert.True(Pipeline.Tests.TestData.MaxRelativeError(Tensor.ConvTranspose1d(h, w).ToArray(), Tensor.ConvTranspose1d(h, w, Tensor.Zeros(5)).ToArray()) < 1e-5);
    }

    [Fact]
    public void DirectDeconvolution2d_EqualsTheIm2ColPath_WithGradients()
    {
        // the plain 2-d transposed convolution runs row by row; a zero bias sends the same numbers down im2col
        (float[] Y, float[] Gx, float[] Gw) Run(bool direct)
        {
            var x = Random(4, 0, 1, 2, 3, 9, 11);
            var w = Random(5, 0, 1, 3, 2, 3, 4);
            x.RequiresGrad = w.RequiresGrad = true;
            var y = direct ? Tensor.ConvTranspose2d(x, w) : Tensor.ConvTranspose2d(x, w, Tensor.Zeros(2));
            y.Backward(Random(6, -1, 1, [.. y.Shape]));
            return (y.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray());
        }
        var (a, b) = (Run(true), Run(false));
        Assert.True(Pipeline.Tests.TestData.MaxRelativeError(a.Y, b.Y) < 1e-5);
        Assert.True(Pipeline.Tests.TestData.MaxRelativeError(a.Gx, b.Gx) < 1e-5);
        Assert.True(Pipeline.Tests.TestData.MaxRelativeError(a.Gw, b.Gw) < 1e-5);
    }

    [Fact]
    public void Broadcasting_MismatchNamesBothShapes()
    {
        var e = Assert.Throws<InvalidInputException>(() => Tensor.Zeros(3, 4) + Tensor.Zeros(5));
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[5]", e.Message);
        var m = Assert.Throws<InvalidInputException>(() => Tensor.Zeros(3, 4).MatMul(Tensor.Zeros(5, 2)));
        Assert.Contains("[3, 4]", m.Message);
        Assert.Contains("[5, 2]", m.Message);
    }

    [Fact]
    public void Pad_Reflect_MirrorsWithoutTheEdge()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], 1, 3);
        Assert.Equal([3f, 2f, 1f, 2f, 3f, 2f], x.Pad([2, 1], PadMode.Reflect).ToArray());
        Assert.Equal([0f, 1f, 2f, 3f, 0f, 0f], x.Pad([1, 2]).ToArray());
        Assert.Throws<InvalidInputException>(() => x.Pad([3, 0], PadMode.Reflect));
    }

    [Fact]
    public void LogSumExp_IsStableForLargeValues()
    {
        var x = Tensor.FromArray([1000f, 1000f, -1000f, float.NegativeInfinity], 2, 2);
        var lse = x.LogSumExp(1);
        Assert.Equal(1000 + Math.Log(2), lse[0], 1e-3);
        Assert.Equal(-1000f, lse[1]);
    }

    [Fact]
    public void Max_SendsTheGradientToTheFirstMaximum()
    {
        var x = Tensor.FromArray([2f, 5f, 5f, 1f], 4);
        x.RequiresGrad = true;
        x.Max().Backward();
        Assert.Equal([0f, 1f, 0f, 0f], x.Grad!.ToArray());
    }

    [Fact]
    public void Backward_AccumulatesUntilCleared()
    {
        var x = Tensor.FromArray([1f, 2f], 2);
        x.RequiresGrad = true;
        (x * x).Sum().Backward();
        (x * 3f).Sum().Backward();
        Assert.Equal([2f + 3f, 4f + 3f], x.Grad!.ToArray());
        x.Grad = null;
        x.Sum().Backward();
        Assert.Equal([1f, 1f], x.Grad!.ToArray());
    }

    [Fact]
    public void Backward_WithOutputGradient_IsAVectorJacobianProduct()
    {
        // y = A·x, so vᵀ∂y/∂x = Aᵀv
        var a = Random(1, -1, 1, 3, 2);
        var x = Random(2, -1, 1, 2, 1);
        x.RequiresGrad = true;
        var v = Tensor.FromArray([1f, -2f, 0.5f], 3, 1);
        a.MatMul(x).Backward(v);
        for (var j = 0; j < 2; j++)
            Assert.Equal(a[0, j] * 1f + a[1, j] * -2f + a[2, j] * 0.5f, x.Grad![j, 0], 1e-5);
        Assert.Throws<InvalidInputException>(() => a.MatMul(x).Backward(Tensor.Zeros(2)));
        Assert.Throws<InvalidInputException>(() => a.MatMul(x).Backward());
    }

    [Fact]
    public void ReusedIntermediate_GetsBothContributions()
    {
        var x = Tensor.FromArray([3f], 1);
        x.RequiresGrad = true;
        var y = x * 2f;
        (y * y + y).Sum().Backward(); // d/dx (4x² + 2x) = 8x + 2
        Assert.Equal(26f, x.Grad![0]);
    }

    [Fact]
    public void NoGrad_AndDetach_RecordNothing()
    {
        var x = Tensor.Ones(2);
        x.RequiresGrad = true;
        using (Tensor.NoGrad())
        {
            Assert.False(Tensor.IsGradEnabled);
            Assert.False((x * 2f).RequiresGrad);
        }
        Assert.True(Tensor.IsGradEnabled);
        Assert.False(x.Detach().RequiresGrad);
        Assert.True((x * 2f).RequiresGrad);
        Assert.Throws<InvalidOperationException>(() => Tensor.Ones(1).Sum().Backward());
    }

    [Fact]
    public void Reshape_AndRowSlice_AreViews()
    {
        var x = Tensor.Zeros(2, 3);
        x.Reshape(3, 2)[2, 1] = 7f;
        x.Slice(0, 1, 1)[0, 0] = 5f;
        Assert.Equal(7f, x[1, 2]);
        Assert.Equal(5f, x[1, 0]);
        Assert.Throws<InvalidInputException>(() => x.Reshape(4, -1));
    }

    [Fact]
    public void Generator_SameSeedSameStream_AndNormalMoments()
    {
        Assert.Equal(Tensor.Randn(new Generator(5), 100).ToArray(), Tensor.Randn(new Generator(5), 100).ToArray());
        Assert.NotEqual(Tensor.Randn(new Generator(5), 100).ToArray(), Tensor.Randn(new Generator(6), 100).ToArray());
        var z = Tensor.Randn(new Generator(1), 200_000).ToArray();
        var mean = z.Average(v => (double)v);
        var variance = z.Average(v => ((double)v - mean) * (v - mean));
        // standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance; allow 5 of them
        Assert.InRange(mean, -0.011, 0.011);
        Assert.InRange(variance, 1 - 0.016, 1 + 0.016);
        var g = new Generator(3);
        var permutation = g.Permutation(50);
        Assert.Equal(Enumerable.Range(0, 50), permutation.Order());
    }
}
