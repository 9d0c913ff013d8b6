using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Training.Decomposition;
using static TorchSharp.torch;

namespace Pipeline.Training.Trainers;

/// <summary>
/// torchnmf's BetaMu trainer as a <c>torch.optim</c> optimizer: the β-divergence multiplicative update for any chain
/// of non-negative modules. The divergence's gradient with respect to the output ŷ splits into a positive part
/// ŷ^(β−1) and a negative part V·ŷ^(β−2); back-propagating each (two vector-Jacobian products,
/// <c>torch.autograd.grad</c>) gives the positive and negative parts of every parameter's gradient, because the model
/// only adds and multiplies non-negative tensors. Each parameter in turn is then multiplied by
/// (negative / positive)^γ (γ = 1/(2 − β) below β = 1, 1/(β − 1) above 2, else 1; Févotte and Idier 2011), with L1,
/// L2 and orthogonality penalties added to the positive part (the orthogonal penalty α·Σ_{r≠s} ⟨p_r, p_s⟩ over
/// components r along axis 1 adds α·(Σ_s p_s − p_r)). A step updates every trainable parameter once, calling the
/// closure, which returns (prediction, target), before each.
/// </summary>
public sealed class BetaMu : OptimizerHelper
{
    /// <summary>BetaMu's settings (torchnmf's names: beta, l1_reg, l2_reg, orthogonal).</summary>
    public sealed class Options : OptimizerOptions
    {
        public double? beta, l1_reg, l2_reg, orthogonal;

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            foreach (var value in new[] { beta, l1_reg, l2_reg, orthogonal }) writer.Write(value!.Value);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            (beta, l1_reg, l2_reg, orthogonal) = (reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerOptions source)
        {
            base.LoadStateDict(source);
            var other = (Options)source;
            (beta, l1_reg, l2_reg, orthogonal) = (other.beta, other.l1_reg, other.l2_reg, other.orthogonal);
        }
    }

    readonly float epsilon;

    /// <summary>Creates the optimizer over <paramref name="parameters"/> (those without <c>requires_grad</c> stay fixed).</summary>
    /// <exception cref="InvalidOptionException">β is not finite, or a penalty is negative or not finite.</exception>
    public BetaMu(IEnumerable<Parameter> parameters, double beta = 1, double l1 = 0, double l2 = 0, double orthogonal = 0,
        float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (!double.IsFinite(beta)) throw new InvalidOptionException($"BetaMu: β must be finite, got {beta}");
        foreach (var (name, value) in new[] { ("l1", l1), ("l2", l2), ("orthogonal", orthogonal) })
            if (!(value >= 0) || !double.IsFinite(value)) throw new InvalidOptionException($"BetaMu: the {name} penalty must be finite and ≥ 0, got {value}");
        this.epsilon = epsilon;
        _defaults = new Options { LearningRate = 1, InitialLearningRate = 1, beta = beta, l1_reg = l1, l2_reg = l2, orthogonal = orthogonal };
        _parameter_groups = [];
        add_param_group(new ParamGroup<Options>(parameters, (Options)_defaults));
    }

    /// <summary>β of the divergence.</summary>
    public double Beta => ((Options)_defaults).beta!.Value;

    /// <summary>The exponent γ of the update for <paramref name="beta"/>, which makes every step lower the divergence.</summary>
    public static double Exponent(double beta) => beta < 1 ? 1 / (2 - beta) : beta > 2 ? 1 / (beta - 1) : 1.0;

    /// <summary>Refused: BetaMu needs the prediction and the target, not a loss.</summary>
    public override Tensor step(Func<Tensor>? closure = null) =>
        throw new InvalidOperationException("BetaMu.step needs a closure returning (prediction, target): use step(() => (model.forward(), V))");

    /// <summary>
    /// One update of every trainable parameter. <paramref name="closure"/> recomputes (prediction, target) from the
    /// current parameters; it is called once per parameter. Returns the divergence before the last update (a float64 scalar).
    /// </summary>
    /// <exception cref="InvalidInputException">The prediction and the target differ in shape.</exception>
    public Tensor step(Func<(Tensor Prediction, Tensor Target)> closure)
    {
        var trainable = _parameter_groups.SelectMany(g => g.Parameters).Where(p => p.requires_grad).ToArray();
        if (trainable.Length == 0) throw new InvalidOperationException("BetaMu has no trainable parameters");
        Tensor? loss = null;
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            var (beta, l1, l2, orthogonal) = (options.beta!.Value, options.l1_reg!.Value, options.l2_reg!.Value, options.orthogonal!.Value);
            foreach (var p in group.Parameters.Where(p => trainable.Any(t => ReferenceEquals(t, p))))
            {
                var last = ReferenceEquals(p, trainable[^1]);
                // only this parameter records gradients: the others are constants for its update
                foreach (var other in trainable) other.requires_grad = ReferenceEquals(other, p);
                try
                {
                    using var scope = NewDisposeScope();
                    Tensor prediction, target;
                    using (enable_grad()) (prediction, target) = closure();
                    if (!prediction.shape.SequenceEqual(target.shape))
                        throw new InvalidInputException($"BetaMu: the target V of shape ({string.Join(", ", target.shape)}) does not match the model's output ({string.Join(", ", prediction.shape)})");
                    using var _ = no_grad();
                    // the divergence before the last update is the step's result
                    if (last) loss = BetaDivergence.Loss(target, prediction.detach(), beta, epsilon).MoveToOuterDisposeScope();
                    var (positive, negative) = GradientParts(target, prediction.detach(), beta);
                    var numerator = autograd.grad([prediction], [p], [negative], retain_graph: true)[0];
                    var denominator = autograd.grad([prediction], [p], [positive])[0];
                    if (l1 != 0) denominator.add_(l1);
                    if (l2 != 0) denominator.add_(p, alpha: l2);
                    if (orthogonal != 0 && p.dim() >= 2) denominator.add_(p.sum([1], keepdim: true) - p, alpha: orthogonal);
                    var ratio = numerator.div_(denominator.clamp_min_(epsilon));
                    var gamma = Exponent(beta);
                    if (gamma != 1) ratio.pow_(gamma);
                    p.mul_(ratio);
                }
                finally
                {
                    foreach (var other in trainable) other.requires_grad = true;
                }
            }
        }
        return loss!;
    }

    /// <summary>The positive part ŷ^(β−1) and the negative part V·ŷ^(β−2) of ∂D/∂ŷ, with ŷ floored at ε.</summary>
    (Tensor Positive, Tensor Negative) GradientParts(Tensor target, Tensor prediction, double beta)
    {
        var y = prediction.clamp_min(epsilon);
        if (beta == 2) return (y, target);
        if (beta == 1) return (ones_like(y), target / y);
        return (y.pow(beta - 1), target * y.pow(beta - 2));
    }

    /// <summary>Checks a target for a β-divergence fit: finite, non-negative, and without zeros when β ≤ 0.</summary>
    /// <exception cref="InvalidInputException">It is not.</exception>
    public static void CheckTarget(Tensor target, double beta, string name = "the target V")
    {
        using var scope = NewDisposeScope();
        if (target.numel() == 0) throw new InvalidInputException($"{name} is empty");
        if (!isfinite(target).all().item<bool>()) throw new InvalidInputException($"{name} has NaN or infinite values");
        if ((target < 0).any().item<bool>()) throw new InvalidInputException($"{name} must be non-negative; it has negative values");
        if (beta <= 0 && (target == 0).any().item<bool>()) throw new InvalidInputException($"β = {beta} needs a strictly positive {name}");
    }
}
