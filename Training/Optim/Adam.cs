using System.Numerics;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Optim;

/// <summary>
/// Adam as <c>torch.optim.Adam</c> (weight decay added to the gradient, as PyTorch does) and, with
/// <c>decoupled: true</c>, AdamW (weight decay applied to the parameter: p ← p·(1 − lr·λ)). The update is
/// one fused, vectorised pass over parameter, gradient and both moments:
/// m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
/// </summary>
public class Adam : Optimizer
{
    readonly Tensor[] firstMoments, secondMoments;

    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; }
    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; }
    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }
    /// <summary>Weight decay λ.</summary>
    public double WeightDecay { get; }
    /// <summary>True for AdamW's decoupled weight decay.</summary>
    public bool Decoupled { get; }

    /// <summary>Creates the optimiser (PyTorch's defaults).</summary>
    public Adam(IEnumerable<Parameter> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool decoupled = false) : base(parameters, learningRate)
    {
        Beta1 = Require(beta1, beta1 is >= 0 and < 1, "Adam β1");
        Beta2 = Require(beta2, beta2 is >= 0 and < 1, "Adam β2");
        Eps = Require(eps, eps >= 0, "Adam eps");
        WeightDecay = Require(weightDecay, weightDecay >= 0, "Adam weight decay");
        Decoupled = decoupled;
        firstMoments = Parameters.Select(p => Tensor.Zeros([.. p.Shape])).ToArray();
        secondMoments = Parameters.Select(p => Tensor.Zeros([.. p.Shape])).ToArray();
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> p, ReadOnlySpan<float> g)
    {
        var t = StepCount;
        var stepSize = (float)(LearningRate / (1 - Math.Pow(Beta1, t)));
        var correction2 = (float)Math.Sqrt(1 - Math.Pow(Beta2, t));
        float b1 = (float)Beta1, b2 = (float)Beta2, c1 = (float)(1 - Beta1), c2 = (float)(1 - Beta2), eps = (float)Eps;
        var coupled = Decoupled ? 0f : (float)WeightDecay;
        if (Decoupled && WeightDecay != 0) System.Numerics.Tensors.TensorPrimitives.Multiply(p, (float)(1 - LearningRate * WeightDecay), p);
        var m = firstMoments[index].Span;
        var v = secondMoments[index].Span;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<float>.Count;
            for (; i <= p.Length - width; i += width)
            {
                var pv = new Vector<float>(p.Slice(i));
                var gv = new Vector<float>(g.Slice(i));
                if (coupled != 0) gv += coupled * pv;
                var mv = new Vector<float>(m.Slice(i)) * b1 + gv * c1;
                var vv = new Vector<float>(v.Slice(i)) * b2 + gv * gv * c2;
                var denom = Vector.SquareRoot(vv) / correction2 + new Vector<float>(eps);
                (pv - stepSize * mv / denom).CopyTo(p.Slice(i));
                mv.CopyTo(m.Slice(i));
                vv.CopyTo(v.Slice(i));
            }
        }
        for (; i < p.Length; i++)
        {
            var gi = coupled != 0 ? g[i] + coupled * p[i] : g[i];
            m[i] = m[i] * b1 + gi * c1;
            v[i] = v[i] * b2 + gi * gi * c2;
            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / correction2 + eps);
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Tensor Value)> State(int index)
    {
        yield return ("exp_avg", firstMoments[index]);
        yield return ("exp_avg_sq", secondMoments[index]);
    }
}

/// <summary>AdamW as <c>torch.optim.AdamW</c>: Adam with decoupled weight decay (default λ = 0.01).</summary>
public sealed class AdamW(IEnumerable<Parameter> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
    double eps = 1e-8, double weightDecay = 1e-2)
    : Adam(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);
