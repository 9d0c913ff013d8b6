using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// 2-d deconvolution as torchnmf's NMF2D: shifts in time and frequency.
/// V: (N, C, L, M), W: (C, R, K₁, K₂), H: (N, R, L − K₁ + 1, M − K₂ + 1).
/// </summary>
public sealed class Nmf2d(long[] vShape, long rank, (long Rows, long Columns) kernel, Generator? generator = null, Tensor? w = null, Tensor? h = null,
    bool trainableW = true, bool trainableH = true, Device? device = null)
    : DeconvolutionComponent("NMF2D", vShape, rank, [kernel.Rows, kernel.Columns], generator, w, h, trainableW, trainableH, device);
