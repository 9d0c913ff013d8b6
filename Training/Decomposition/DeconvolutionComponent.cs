using Pipeline.Shared.Errors;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// The convolutional family of torchnmf (NMFD, NMF2D, NMF3D): V ≈ Σ over kernel offsets of W shifted against H,
/// i.e. a transposed convolution of H with W. V: (N, C, *S), W: (C, R, *K), H: (N, R, *(S − K + 1)).
/// </summary>
public abstract class DeconvolutionComponent : NonNegativeComponent
{
    /// <summary>The kernel size per spatial dimension.</summary>
    public IReadOnlyList<long> Kernel { get; }

    private protected DeconvolutionComponent(string name, long[] vShape, long rank, long[] kernel, Generator? generator, Tensor? w, Tensor? h,
        bool trainableW, bool trainableH, Device? device)
        : base(name, Shapes(name, vShape, rank, kernel).W, Shapes(name, vShape, rank, kernel).H, generator, w, h, trainableW, trainableH, device) =>
        Kernel = kernel;

    static (long[] W, long[] H) Shapes(string name, long[] vShape, long rank, long[] kernel)
    {
        var spatial = kernel.Length;
        if (vShape.Length != 2 + spatial || rank < 1 || kernel.Any(k => k < 1) || vShape.Any(s => s < 1))
            throw new InvalidOptionException($"{name} needs V with {2 + spatial} dimensions (N, C, {string.Join(", ", Enumerable.Range(1, spatial).Select(i => $"S{i}"))}), a positive rank and kernel, got {ShapeText(vShape)}, {rank}, {ShapeText(kernel)}");
        for (var i = 0; i < spatial; i++)
            if (kernel[i] > vShape[2 + i])
                throw new InvalidOptionException($"{name}: the kernel {ShapeText(kernel)} is larger than V {ShapeText(vShape)}");
        return ([vShape[1], rank, .. kernel], [vShape[0], rank, .. Enumerable.Range(0, spatial).Select(i => vShape[2 + i] - kernel[i] + 1)]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w)
    {
        if (h.dim() != w.dim() || h.shape[1] != w.shape[1])
            throw new InvalidInputException($"H of shape {ShapeText(h.shape)} and W of shape {ShapeText(w.shape)} do not match: they need (N, R, *P) and (C, R, *K)");
        return Spread(h, TransposedTemplates(w));
    }

    /// <summary>W with its first two axes swapped, (R, C, *K): the weight of both the reconstruction and its adjoint.</summary>
    public static Tensor TransposedTemplates(Tensor w) => w.transpose(0, 1);

    /// <summary>H (N, R, *P) → (N, C, *(P + K − 1)): the transposed convolution with <paramref name="wt"/> (R, C, *K), differentiable.</summary>
    internal static Tensor Spread(Tensor h, Tensor wt) => Deconvolution.apply(h, wt);

    /// <summary>V (N, C, *S) → (N, R, *(S − K + 1)): the valid correlation with <paramref name="wt"/> (R, C, *K), the adjoint of <see cref="Spread"/>.</summary>
    internal static Tensor Correlate(Tensor v, Tensor wt) => Deconvolution.Correlate(v, wt);

    /// <summary>
    /// Activations of <paramref name="v"/> (N, C, *S) against the fixed templates: H₀ = conv(V, Wᵀ)/ΣW (a matched
    /// filter), then <paramref name="iterations"/> β multiplicative updates of H alone (<see cref="ActivationUpdate"/>,
    /// the definition the exported activation graph is built from).
    /// </summary>
    /// <exception cref="InvalidInputException">V does not match the templates, or is negative or non-finite.</exception>
    public Tensor EstimateActivations(Tensor v, int iterations, double beta = 1, float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (iterations < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        if (v.dim() != W.dim() || v.shape[1] != W.shape[0] || Kernel.Where((k, i) => k > v.shape[2 + i]).Any())
            throw new InvalidInputException($"V of shape {ShapeText(v.shape)} does not match templates {ShapeText(W.shape)}");
        BetaMu.CheckTarget(v, beta: 1, "V");
        using var w = W.detach();
        using var x = v.to(W.device);
        return TorchActivationOperations.Deconvolution(w).Estimate(x, iterations, beta, epsilon);
    }
}
