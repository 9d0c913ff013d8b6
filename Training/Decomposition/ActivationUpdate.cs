using Pipeline.Training.Trainers;
namespace Pipeline.Training.Decomposition;

/// <summary>
/// The operations the activation update is written in, so that one definition runs as TorchSharp tensors (the
/// trainer's <c>EstimateActivations</c>) and as ONNX graph nodes (the exported activation graph). <typeparamref name="T"/>
/// is a tensor, or the name of a value in a graph. A model says how its fixed templates act
/// (<see cref="Reconstruct"/>, <see cref="Correlate"/>, <see cref="Normal"/>, <see cref="TemplateSums"/>,
/// <see cref="Initial"/>); the arithmetic is elementwise.
/// </summary>
public interface IActivationOperations<T>
{
    /// <summary>The templates applied to activations: W·H for NMF, the transposed convolution for NMFD, NMF2D and NMF3D.</summary>
    T Reconstruct(T h);
    /// <summary>The adjoint of <see cref="Reconstruct"/>: Wᵀ·X, or the valid correlation with the templates.</summary>
    T Correlate(T x);
    /// <summary>Correlate(Reconstruct(h)); NMF forms it through the Gram matrix WᵀW.</summary>
    T Normal(T h);
    /// <summary>Correlate of all ones: each component's template sum, shaped to broadcast against H.</summary>
    T TemplateSums();
    /// <summary>The starting activations for V.</summary>
    T Initial(T v);
    T Multiply(T a, T b);
    T Divide(T a, T b);
    /// <summary>max(a, floor).</summary>
    T Floor(T a, float floor);
    T Power(T a, float exponent);
    T Reciprocal(T a);
}

/// <summary>
/// The β multiplicative update of activations H against fixed templates (supervised NMF and its convolutional
/// kin), written once: H ← H ⊙ (Correlate(V ⊙ Y^(β−2)) / Correlate(Y^(β−1)))^γ with Y = max(Reconstruct(H), ε),
/// γ as in <see cref="BetaMu.Exponent"/>, denominators floored at ε (Févotte and Idier, 2011). Closed forms where
/// they exist: β = 2 takes Correlate(V) / Normal(H), β = 1 Correlate(V / Y) / TemplateSums, β = 0 the reciprocal of Y.
/// <see cref="BetaMu"/> reaches the same step from autograd; the fused CPU kernels of <see cref="Nmf"/> are tested equal to both.
/// </summary>
public static class ActivationUpdate
{
    /// <summary>What does not change across iterations for one V: Correlate(V) (β = 2), the floored template sums (β = 1).</summary>
    public readonly record struct Invariants<T>(T? Numerator, T? Denominator);

    /// <summary>The loop-invariant terms (in a graph, computed once outside the loop).</summary>
    public static Invariants<T> Prepare<T>(IActivationOperations<T> ops, T v, double beta, float epsilon) => beta switch
    {
        2 => new(ops.Correlate(v), default),
        1 => new(default, ops.Floor(ops.TemplateSums(), epsilon)),
        _ => new(default, default),
    };

    /// <summary>One update of <paramref name="h"/> for V.</summary>
    public static T Step<T>(IActivationOperations<T> ops, Invariants<T> invariants, T v, T h, double beta, float epsilon)
    {
        if (beta == 2) return ops.Multiply(h, ops.Divide(invariants.Numerator!, ops.Floor(ops.Normal(h), epsilon)));
        var y = ops.Floor(ops.Reconstruct(h), epsilon);
        if (beta == 1) return ops.Multiply(h, ops.Divide(ops.Correlate(ops.Divide(v, y)), invariants.Denominator!));
        T x, d;
        if (beta == 0)
        {
            d = ops.Reciprocal(y);
            x = ops.Multiply(ops.Multiply(v, d), d);
        }
        else
        {
            var p = ops.Power(y, (float)(beta - 2));
            x = ops.Multiply(p, v);
            d = ops.Multiply(p, y);
        }
        var ratio = ops.Divide(ops.Correlate(x), ops.Floor(ops.Correlate(d), epsilon));
        var gamma = (float)BetaMu.Exponent(beta);
        return ops.Multiply(h, gamma == 1f ? ratio : ops.Power(ratio, gamma));
    }
}
