using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// <see cref="ActivationUpdate"/>'s operations as TorchSharp tensors, on the templates' device: <see cref="Nmf(Tensor)"/>
/// for W (F, K) against V (F, T), <see cref="Deconvolution(Tensor)"/> for torchnmf's convolutional W (C, R, *K) against
/// V (N, C, *S). <see cref="Estimate"/> runs the whole estimation.
/// </summary>
public sealed class TorchActivationOperations : IActivationOperations<Tensor>
{
    readonly Func<Tensor, Tensor> _reconstruct, _correlate, _normal, _initial;
    readonly Func<Tensor> _templateSums;

    TorchActivationOperations(Func<Tensor, Tensor> reconstruct, Func<Tensor, Tensor> correlate, Func<Tensor, Tensor> normal,
        Func<Tensor> templateSums, Func<Tensor, Tensor> initial) =>
        (_reconstruct, _correlate, _normal, _templateSums, _initial) = (reconstruct, correlate, normal, templateSums, initial);

    /// <summary>NMF's templates W (F, K): W·H, Wᵀ·X, (WᵀW)·H, column sums (K, 1), and the constant start √(mean(V)/K).</summary>
    public static TorchActivationOperations Nmf(Tensor w)
    {
        var k = w.shape[1];
        return new(h => w.mm(h), x => w.t().mm(x), h => w.t().mm(w).mm(h), () => w.sum([0L]).unsqueeze(1),
            v => full([k, v.shape[1]], (v.mean() / k).sqrt().item<float>(), device: w.device));
    }

    /// <summary>
    /// The convolutional family's templates W (C, R, *K): the transposed convolution, the valid correlation, their
    /// composition, the sums over channels and kernel, and the matched-filter start Correlate(V) / ΣW.
    /// </summary>
    public static TorchActivationOperations Deconvolution(Tensor w)
    {
        var wt = DeconvolutionComponent.TransposedTemplates(w);
        var axes = Enumerable.Range(0, (int)w.dim()).Where(a => a != 1).Select(a => (long)a).ToArray();
        return new(h => DeconvolutionComponent.Spread(h, wt), x => DeconvolutionComponent.Correlate(x, wt),
            h => DeconvolutionComponent.Correlate(DeconvolutionComponent.Spread(h, wt), wt),
            () => w.sum(axes, keepdim: true), v => DeconvolutionComponent.Correlate(v, wt) / w.sum());
    }

    /// <summary>
    /// <paramref name="iterations"/> updates of H from <see cref="Initial"/>, without gradients, each step in its own
    /// dispose scope; returns H.
    /// </summary>
    public Tensor Estimate(Tensor v, int iterations, double beta, float epsilon)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var invariants = ActivationUpdate.Prepare(this, v, beta, epsilon);
        var h = Initial(v);
        for (var i = 0; i < iterations; i++)
            using (var step = NewDisposeScope())
                h = ActivationUpdate.Step(this, invariants, v, h, beta, epsilon).MoveToOuterDisposeScope();
        return h.MoveToOuterDisposeScope();
    }

    public Tensor Reconstruct(Tensor h) => _reconstruct(h);
    public Tensor Correlate(Tensor x) => _correlate(x);
    public Tensor Normal(Tensor h) => _normal(h);
    public Tensor TemplateSums() => _templateSums();
    public Tensor Initial(Tensor v) => _initial(v);
    public Tensor Multiply(Tensor a, Tensor b) => a * b;
    public Tensor Divide(Tensor a, Tensor b) => a / b;
    public Tensor Floor(Tensor a, float floor) => a.clamp_min(floor);
    public Tensor Power(Tensor a, float exponent) => a.pow(exponent);
    public Tensor Reciprocal(Tensor a) => a.reciprocal();
}
