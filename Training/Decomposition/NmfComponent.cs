using Pipeline.Shared.Errors;
using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>V ≈ H·Wᵀ as torchnmf's NMF: V (N, C), W (C, R), H (N, R).</summary>
public sealed class NmfComponent : NonNegativeComponent
{
    /// <summary>Infers W's and H's shapes from V's; see <see cref="NonNegativeComponent"/> for the rest.</summary>
    /// <exception cref="InvalidOptionException">V is not (N, C), or the rank is not positive.</exception>
    public NmfComponent(long[] vShape, long rank, Generator? generator = null, Tensor? w = null, Tensor? h = null,
        bool trainableW = true, bool trainableH = true, Device? device = null)
        : base("NMF", Check(vShape, rank) is var (_, c) ? [c, rank] : [], [vShape[0], rank], generator, w, h, trainableW, trainableH, device) { }

    static (long N, long C) Check(long[] vShape, long rank)
    {
        if (vShape.Length != 2 || rank < 1 || vShape.Any(s => s < 1))
            throw new InvalidOptionException($"NMF needs V (N, C) and a positive rank, got {ShapeText(vShape)} and {rank}");
        return (vShape[0], vShape[1]);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidInputException">H (N, R) and W (C, R) disagree on R.</exception>
    public override Tensor Reconstruct(Tensor h, Tensor w)
    {
        if (h.dim() != 2 || w.dim() != 2 || h.shape[1] != w.shape[1])
            throw new InvalidInputException($"NMF: H of shape {ShapeText(h.shape)} and W of shape {ShapeText(w.shape)} do not make H·Wᵀ; they need (N, R) and (C, R)");
        return h.matmul(w.t());
    }
}
