using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// torchnmf's BetaMu trainer: the β-divergence multiplicative update for any chain of non-negative modules.
/// The divergence's gradient with respect to the output ŷ splits into a positive part ŷ^(β−1) and a negative
/// part V·ŷ^(β−2); back-propagating each (two vector-Jacobian products) gives the positive and negative parts
/// of every parameter's gradient, because the model only adds and multiplies non-negative tensors. Each
/// parameter in turn is then multiplied by (negative / positive)^γ (γ = 1/(2 − β) below β = 1, 1/(β − 1)
/// above 2, else 1), with L1, L2 and orthogonality penalties added to the positive part (the orthogonal penalty
/// α·Σ_{r≠s} ⟨p_r, p_s⟩ over components r along axis 1 adds α·(Σ_s p_s − p_r)); a trainer step updates every
/// parameter once, re-evaluating the model before each.
/// </summary>
public sealed class BetaMu(IEnumerable<Parameter> parameters, double beta = 1, double l1 = 0, double l2 = 0, double orthogonal = 0,
    float epsilon = BetaDivergence.DefaultEpsilon)
{
    readonly Parameter[] parameters = parameters.Where(p => p.RequiresGrad).ToArray();

    /// <summary>β of the divergence.</summary>
    public double Beta { get; } = beta;

    /// <summary>
    /// One update of every trainable parameter. <paramref name="output"/> recomputes the model's output from the
    /// current parameters; it is called once per parameter. Returns the divergence before the last update.
    /// </summary>
    public double Step(Tensor target, Func<Tensor> output)
    {
        if (parameters.Length == 0) throw new InvalidOperationException("BetaMu has no trainable parameters");
        var exponent = Beta < 1 ? 1 / (2 - Beta) : Beta > 2 ? 1 / (Beta - 1) : 1.0;
        var loss = 0.0;
        foreach (var p in parameters)
        {
            // only this parameter records gradients: the others are constants for its update
            foreach (var other in parameters) other.RequiresGrad = ReferenceEquals(other, p);
            try
            {
                var y = output();
                target.RequireSameShape(y, "BetaMu (target and model output)");
                loss = BetaDivergence.Compute(target.Span, y.Span, Beta, epsilon);
                var (positive, negative) = GradientParts(target, y);
                p.Grad = null;
                y.Backward(positive);
                var numeratorFree = p.Grad!.ToArray();
                p.Grad = null;
                y.Backward(negative);
                var numerator = p.Grad!.Span;
                var values = p.Span;
                var others = orthogonal == 0 ? null : OtherComponents(p);
                for (var i = 0; i < values.Length; i++)
                {
                    var denominator = numeratorFree[i] + l1 + l2 * values[i] + (others is null ? 0 : orthogonal * others[i]);
                    var ratio = numerator[i] / Math.Max(denominator, epsilon);
                    values[i] = (float)(values[i] * (exponent == 1 ? ratio : Math.Pow(ratio, exponent)));
                }
                p.Grad = null;
            }
            finally
            {
                foreach (var other in parameters) other.RequiresGrad = true;
            }
        }
        return loss;
    }

    /// <summary>For every entry, the sum of the entries at the same position in the other components (axis 1).</summary>
    static float[] OtherComponents(Tensor p)
    {
        if (p.Rank < 2) return new float[p.Count];
        var dims = p.Shape;
        int outer = dims[0], components = dims[1], inner = p.Count / (outer * components);
        var values = p.Span;
        var result = new float[p.Count];
        for (var o = 0; o < outer; o++)
            for (var i = 0; i < inner; i++)
            {
                float total = 0;
                for (var r = 0; r < components; r++) total += values[(o * components + r) * inner + i];
                for (var r = 0; r < components; r++) result[(o * components + r) * inner + i] = total - values[(o * components + r) * inner + i];
            }
        return result;
    }

    (Tensor Positive, Tensor Negative) GradientParts(Tensor target, Tensor y)
    {
        var positive = Tensor.Zeros([.. y.Shape]);
        var negative = Tensor.Zeros([.. y.Shape]);
        ReadOnlySpan<float> v = target.Span, yy = y.Span;
        Span<float> pos = positive.Span, neg = negative.Span;
        for (var i = 0; i < yy.Length; i++)
        {
            var value = Math.Max(yy[i], epsilon);
            if (Beta == 2) { pos[i] = value; neg[i] = v[i]; }
            else if (Beta == 1) { pos[i] = 1; neg[i] = v[i] / value; }
            else
            {
                pos[i] = (float)Math.Pow(value, Beta - 1);
                neg[i] = (float)(v[i] * Math.Pow(value, Beta - 2));
            }
        }
        return (positive, negative);
    }

    /// <summary>Checks a target for a β-divergence fit: finite, non-negative, and without zeros when β ≤ 0.</summary>
    public void CheckTarget(Tensor target)
    {
        var array = target.ToNdArray();
        array.RequireNonNegativeFinite("the target V");
        if (Beta <= 0 && array.Data.Any(x => x == 0)) throw new InvalidInputException($"β = {Beta} needs a strictly positive target V");
    }
}
