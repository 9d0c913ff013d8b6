using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
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
                // P ← P·(N / max(D + l1 + l2·P + orthogonal·others, ε))^γ, vectorised, with D's buffer reused for the ratio
                var ratio = numeratorFree.AsSpan();
                if (l1 != 0) TensorPrimitives.Add(ratio, (float)l1, ratio);
                if (l2 != 0) TensorPrimitives.MultiplyAdd(values, (float)l2, ratio, ratio);
                if (orthogonal != 0) TensorPrimitives.MultiplyAdd(OtherComponents(p), (float)orthogonal, ratio, ratio);
                TensorPrimitives.Max(ratio, epsilon, ratio);
                TensorPrimitives.Divide(numerator, ratio, ratio);
                if (exponent != 1) TensorPrimitives.Pow(ratio, (float)exponent, ratio);
                TensorPrimitives.Multiply(values, ratio, values);
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

    /// <summary>The positive part ŷ^(β−1) and the negative part V·ŷ^(β−2) of ∂D/∂ŷ, with ŷ floored at ε; vectorised.</summary>
    (Tensor Positive, Tensor Negative) GradientParts(Tensor target, Tensor y)
    {
        var positive = Tensor.Zeros([.. y.Shape]);
        var negative = Tensor.Zeros([.. y.Shape]);
        ReadOnlySpan<float> v = target.Span;
        Span<float> pos = positive.Span, neg = negative.Span;
        TensorPrimitives.Max(y.Span, epsilon, pos); // ŷ, floored
        if (Beta == 2) v.CopyTo(neg);
        else if (Beta == 1)
        {
            TensorPrimitives.Divide(v, pos, neg);
            pos.Fill(1);
        }
        else
        {
            TensorPrimitives.Pow(pos, (float)(Beta - 2), neg);
            TensorPrimitives.Multiply(neg, v, neg);
            TensorPrimitives.Pow(pos, (float)(Beta - 1), pos);
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
