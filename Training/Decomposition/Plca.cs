using Pipeline.Shared.Errors;
using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>PLCA as torchnmf's: V (N, C) ≈ mass·H·diag(Z)·Wᵀ with W (C, R), H (N, R).</summary>
public sealed class Plca : PlcaComponent
{
    /// <summary>Infers the factors' sizes from V's.</summary>
    /// <exception cref="InvalidOptionException">V is not (N, C), or the rank is not positive.</exception>
    public Plca(long[] vShape, long rank, Generator? generator = null, Device? device = null)
        : base("PLCA", vShape.Length == 2 && rank >= 1 && vShape.All(s => s > 0) ? [vShape[1], rank] : throw new InvalidOptionException($"PLCA needs V (N, C) and a positive rank, got {ShapeText(vShape)}, {rank}"),
            [vShape[0], rank], rank, generator, device) { }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w, Tensor z) => (h * z).matmul(w.t());

    private protected override long[] HShapeFor(Tensor v) =>
        v.dim() == 2 && v.shape[1] == W.shape[0] ? [v.shape[0], W.shape[1]]
            : throw new InvalidInputException($"V of shape {ShapeText(v.shape)} does not match templates {ShapeText(W.shape)}; expected (N, {W.shape[0]})");
}
