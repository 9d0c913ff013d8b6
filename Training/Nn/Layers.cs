using Pipeline.Shared.Errors;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Nn;

/// <summary>
/// y = x·Wᵀ + b, as <c>torch.nn.Linear</c>. x: (…, inFeatures) → (…, outFeatures); weight: (out, in).
/// Initialised like PyTorch: weight and bias uniform in ±1/√inFeatures.
/// </summary>
public sealed class Linear : Module
{
    /// <summary>Weight, (outFeatures, inFeatures).</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, (outFeatures), or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Creates the layer, drawing initial values from <paramref name="generator"/> (default: <see cref="Generator.Default"/>).</summary>
    public Linear(int inFeatures, int outFeatures, bool hasBias = true, Generator? generator = null)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new InvalidOptionException($"Linear({inFeatures}, {outFeatures}): both sizes must be positive");
        var g = generator ?? Generator.Default;
        var bound = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Tensor.Uniform(g, -bound, bound, outFeatures, inFeatures));
        if (hasBias) Bias = RegisterParameter("bias", Tensor.Uniform(g, -bound, bound, outFeatures));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    protected override string Describe() => $"Linear(in={Weight.Size(1)}, out={Weight.Size(0)}, bias={Bias is not null})";
}

/// <summary>max(x, 0).</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>The logistic sigmoid.</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>The hyperbolic tangent.</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>
/// Batch normalisation over (N, C) or (N, C, L), as <c>torch.nn.BatchNorm1d</c>: in training mode it uses
/// the batch's statistics and updates running estimates (momentum 0.1, unbiased variance); in evaluation
/// mode it uses the running estimates.
/// </summary>
public sealed class BatchNorm1d : Module
{
    /// <summary>Scale γ, (C).</summary>
    public Parameter Weight { get; }

    /// <summary>Shift β, (C).</summary>
    public Parameter Bias { get; }

    /// <summary>Running mean, (C).</summary>
    public Tensor RunningMean { get; }

    /// <summary>Running (unbiased) variance, (C).</summary>
    public Tensor RunningVar { get; }

    /// <summary>Number of training batches seen, zero-dimensional (a float here; PyTorch stores an int64).</summary>
    public Tensor NumBatchesTracked { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public float Eps { get; }

    /// <summary>Weight of the newest batch in the running estimates.</summary>
    public float Momentum { get; }

    /// <summary>Creates the layer with γ = 1, β = 0, running mean 0 and variance 1.</summary>
    public BatchNorm1d(int numFeatures, float eps = 1e-5f, float momentum = 0.1f)
    {
        if (numFeatures < 1) throw new InvalidOptionException($"BatchNorm1d({numFeatures}): the feature count must be positive");
        if (!(eps > 0)) throw new InvalidOptionException($"BatchNorm1d: eps must be positive, got {eps}");
        if (!(momentum is >= 0 and <= 1)) throw new InvalidOptionException($"BatchNorm1d: momentum must lie in [0, 1], got {momentum}");
        Eps = eps;
        Momentum = momentum;
        Weight = RegisterParameter("weight", Tensor.Ones(numFeatures));
        Bias = RegisterParameter("bias", Tensor.Zeros(numFeatures));
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(numFeatures));
        RunningVar = RegisterBuffer("running_var", Tensor.Ones(numFeatures));
        NumBatchesTracked = RegisterBuffer("num_batches_tracked", Tensor.Scalar(0f));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (IsTraining) NumBatchesTracked.Span[0] += 1;
        return Tensor.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, IsTraining, Momentum, Eps);
    }

    /// <inheritdoc/>
    protected override string Describe() => $"BatchNorm1d({Weight.Count}, eps={Eps}, momentum={Momentum})";
}

/// <summary>
/// Zeroes each element with probability p in training mode and scales the rest by 1/(1 − p), as
/// <c>torch.nn.Dropout</c>; the identity in evaluation mode.
/// </summary>
public sealed class Dropout : Module
{
    readonly Generator generator;

    /// <summary>Drop probability.</summary>
    public float P { get; }

    /// <summary>Creates the layer; masks are drawn from <paramref name="generator"/> (default: <see cref="Generator.Default"/>).</summary>
    public Dropout(float p = 0.5f, Generator? generator = null)
    {
        if (!(p is >= 0 and <= 1)) throw new InvalidOptionException($"Dropout: p must lie in [0, 1], got {p}");
        P = p;
        this.generator = generator ?? Generator.Default;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => IsTraining ? input.Dropout(P, generator) : input;

    /// <inheritdoc/>
    protected override string Describe() => $"Dropout(p={P})";
}

/// <summary>Applies its children in order, named "0", "1", … as in <c>torch.nn.Sequential</c>.</summary>
public sealed class Sequential : Module
{
    readonly Module[] layers;

    /// <summary>Chains <paramref name="layers"/>.</summary>
    public Sequential(params Module[] layers)
    {
        this.layers = layers;
        for (var i = 0; i < layers.Length; i++) RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    /// <summary>The layer at <paramref name="index"/>.</summary>
    public Module this[int index] => layers[index];

    /// <summary>Number of layers.</summary>
    public int Count => layers.Length;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in layers) x = layer.Forward(x);
        return x;
    }
}
