using Pipeline.Training.Tensors;

namespace Pipeline.Training.Tests;

/// <summary>
/// Compares the gradients that Backward computes with central finite differences.
/// For L(x) = Σᵢ rᵢ·fᵢ(x) with a fixed random r, the numeric derivative is (L(x + h) − L(x − h)) / 2h, summed
/// in double precision from float32 outputs. Its error has two parts: float32 rounding of the outputs, at
/// most about c·u·Σ|rᵢfᵢ| / h (u = 2⁻²⁴; c = 8 allows a few roundings per output), and truncation,
/// h²/6·|L‴|, which for h = 10⁻² and the smooth O(1) functions used here stays below 10⁻³·|L′| + 10⁻⁴.
/// Inputs are drawn away from kinks (ReLU, |x|, clamp bounds, ties in max) by more than h.
/// </summary>
public static class GradientCheck
{
    const double H = 1e-2;
    const double Unit = 1.0 / (1 << 24);

    public static void Verify(Func<Tensor[], Tensor> f, params Tensor[] inputs) => Verify(f, inputs, (bool[]?)null);

    public static void Verify(Func<Tensor[], Tensor> f, Tensor[] inputs, bool[]? differentiable)
    {
        for (var i = 0; i < inputs.Length; i++) inputs[i].RequiresGrad = differentiable?[i] ?? true;
        var output = f(inputs);
        var r = Tensor.Uniform(new Generator(99), -1f, 1f, [.. output.Shape]);
        output.Backward(r);
        for (var i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            var x = inputs[i];
            Xunit.Assert.NotNull(x.Grad);
            var analytic = x.Grad!.ToArray();
            for (var j = 0; j < x.Count; j++)
            {
                var saved = x.Span[j];
                x.Span[j] = (float)(saved + H);
                var (plus, scalePlus) = Projection(f, inputs, r);
                x.Span[j] = (float)(saved - H);
                var (minus, scaleMinus) = Projection(f, inputs, r);
                x.Span[j] = saved;
                var step = (double)(float)(saved + H) - (float)(saved - H); // the step actually taken in float32
                var numeric = (plus - minus) / step;
                var tolerance = 8 * Unit * Math.Max(scalePlus, scaleMinus) / H + 1e-3 * Math.Abs(numeric) + 1e-4;
                Xunit.Assert.True(Math.Abs(numeric - analytic[j]) <= tolerance,
                    $"input {i} element {j}: backward {analytic[j]:G6}, finite difference {numeric:G6} (tolerance {tolerance:G3})");
            }
        }
    }

    static (double Value, double Scale) Projection(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor r)
    {
        using var _ = Tensor.NoGrad();
        var y = f(inputs).ToArray();
        double sum = 0, scale = 0;
        for (var k = 0; k < y.Length; k++)
        {
            sum += (double)r.Span[k] * y[k];
            scale += Math.Abs((double)r.Span[k] * y[k]);
        }
        return (sum, scale);
    }

    /// <summary>Uniform values in [low, high) from a fixed seed.</summary>
    public static Tensor Random(int seed, float low, float high, params int[] shape) => Tensor.Uniform(new Generator(seed), low, high, shape);

    /// <summary>Values whose magnitude lies in [0.2, 1.2) with random signs: at least 0.2 from any kink at 0.</summary>
    public static Tensor AwayFromZero(int seed, params int[] shape)
    {
        var g = new Generator(seed);
        var t = Tensor.Zeros(shape);
        for (var i = 0; i < t.Count; i++) t.Span[i] = (g.NextSingle() < 0.5f ? -1 : 1) * (0.2f + g.NextSingle());
        return t;
    }
}
