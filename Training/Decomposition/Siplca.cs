using Pipeline.Shared.Errors;
using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// Shift-invariant PLCA (SIPLCA, SIPLCA2, SIPLCA3 by the kernel's length): V (N, C, *S) ≈ mass·Σᵣ Z[r]·(W[·, r] ⊛ H[·, r]),
/// W (C, R, *K), H (N, R, *(S − K + 1)): NMFD's reconstruction with component priors.
/// </summary>
public class Siplca : PlcaComponent
{
    /// <summary>Kernel size per spatial dimension.</summary>
    public IReadOnlyList<long> Kernel { get; }

    /// <summary>Infers the factors' sizes from V's; one kernel size per spatial dimension (1, 2 or 3).</summary>
    /// <exception cref="InvalidOptionException">The shapes do not fit together.</exception>
    public Siplca(long[] vShape, long rank, long[] kernel, Generator? generator = null, Device? device = null)
        : base(kernel.Length switch { 1 => "SIPLCA", var n => $"SIPLCA{n}" }, Shapes(vShape, rank, kernel).W, Shapes(vShape, rank, kernel).H, rank, generator, device) =>
        Kernel = kernel;

    static (long[] W, long[] H) Shapes(long[] vShape, long rank, long[] kernel)
    {
        var s = kernel.Length;
        if (s is < 1 or > 3 || vShape.Length != 2 + s || rank < 1 || kernel.Any(k => k < 1) || kernel.Where((k, i) => k > vShape[2 + i]).Any())
            throw new InvalidOptionException($"SIPLCA needs V (N, C, *S) with 1–3 spatial dimensions, a positive rank and a kernel no larger than V: got {ShapeText(vShape)}, {rank}, {ShapeText(kernel)}");
        return ([vShape[1], rank, .. kernel], [vShape[0], rank, .. Enumerable.Range(0, s).Select(i => vShape[2 + i] - kernel[i] + 1)]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w, Tensor z)
    {
        var shape = Enumerable.Repeat(1L, (int)h.dim()).ToArray();
        shape[1] = z.numel();
        return DeconvolutionComponent.Spread(h * z.reshape(shape), DeconvolutionComponent.TransposedTemplates(w));
    }

    private protected override long[] HShapeFor(Tensor v)
    {
        if (v.dim() != W.dim() || v.shape[1] != W.shape[0] || Kernel.Where((k, i) => k > v.shape[2 + i]).Any())
            throw new InvalidInputException($"V of shape {ShapeText(v.shape)} does not match templates {ShapeText(W.shape)}");
        return [v.shape[0], W.shape[1], .. Kernel.Select((k, i) => v.shape[2 + i] - k + 1)];
    }
}
