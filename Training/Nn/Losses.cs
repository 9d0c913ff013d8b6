using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Pipeline.Shared.Errors;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Nn;

/// <summary>How a loss combines its per-element (or per-sample) values.</summary>
public enum Reduction
{
    /// <summary>One value per element (per sample for the KL term).</summary>
    None,
    /// <summary>The mean.</summary>
    Mean,
    /// <summary>The sum.</summary>
    Sum,
}

/// <summary>Loss functions as in <c>torch.nn.functional</c>.</summary>
public static class Losses
{
    /// <summary>
    /// Mean squared error (x − y)², as <c>F.mse_loss</c>. Shapes must match. Mean and sum are one fused
    /// kernel each way; <see cref="Reduction.None"/> returns the elementwise squares.
    /// </summary>
    public static Tensor Mse(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        input.RequireSameShape(target, "Mse");
        if (reduction == Reduction.None) return (input - target).Square();
        var diff = new float[input.Count];
        TensorPrimitives.Subtract(input.Span, target.Span, diff);
        var scale = reduction == Reduction.Mean ? 1f / Math.Max(input.Count, 1) : 1f;
        var result = Tensor.Scalar(TensorPrimitives.Dot(diff, diff) * scale);
        return RecordMse(result, input, target, diff, scale);
    }

    static Tensor RecordMse(Tensor result, Tensor input, Tensor target, float[] diff, float scale)
    {
        // d/dx = 2(x − y)·scale·g, d/dy = −d/dx
        return Autograd.Record(result, "Mse", [input, target], g =>
        {
            var gx = new float[diff.Length];
            TensorPrimitives.Multiply(diff, 2f * scale * g.Item(), gx);
            Tensor? gy = null;
            if (target.RequiresGrad)
            {
                var neg = new float[diff.Length];
                TensorPrimitives.Negate(gx, neg);
                gy = Tensor.FromArray(neg, [.. target.Shape]);
            }
            return [input.RequiresGrad ? Tensor.FromArray(gx, [.. input.Shape]) : null, gy];
        });
    }

    /// <summary>
    /// Gaussian negative log-likelihood, as <c>F.gaussian_nll_loss</c>: ½(ln v + (x − y)²/v), plus ½ln 2π
    /// when <paramref name="full"/>; v = max(variance, eps). variance broadcasts against input (for example
    /// one variance per feature, or (N, 1) per sample).
    /// </summary>
    public static Tensor GaussianNll(Tensor input, Tensor target, Tensor variance, bool full = false, float eps = 1e-6f,
        Reduction reduction = Reduction.Mean)
    {
        input.RequireSameShape(target, "GaussianNll");
        foreach (var v in variance.Span)
            if (v < 0 || float.IsNaN(v)) throw new InvalidInputException("GaussianNll: the variance has negative or NaN entries");
        var v2 = variance.Clamp(min: eps);
        var loss = (v2.Log() + (input - target).Square() / v2) * 0.5f;
        if (full) loss = loss + 0.5f * MathF.Log(2 * MathF.PI);
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + ln σ² − μ² − σ²) over the last dimension, for a diagonal Gaussian
    /// given by its mean and log-variance (both (…, D)). None gives one value per sample; Mean averages the
    /// per-sample values (the VAE convention), Sum adds them.
    /// </summary>
    public static Tensor KlToStandardNormal(Tensor mean, Tensor logVariance, Reduction reduction = Reduction.Mean)
    {
        mean.RequireSameShape(logVariance, "KlToStandardNormal");
        var terms = (logVariance + 1f - mean.Square() - logVariance.Exp()) * -0.5f;
        return Reduce(terms.Sum(-1), reduction);
    }

    static Tensor Reduce(Tensor values, Reduction reduction) => reduction switch
    {
        Reduction.None => values,
        Reduction.Sum => values.Sum(),
        _ => values.Mean(),
    };
}
