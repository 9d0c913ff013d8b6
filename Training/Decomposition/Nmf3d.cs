using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// 3-d deconvolution as torchnmf's NMF3D.
/// V: (N, C, L, M, O), W: (C, R, K₁, K₂, K₃), H: (N, R, L − K₁ + 1, M − K₂ + 1, O − K₃ + 1).
/// </summary>
public sealed class Nmf3d(long[] vShape, long rank, (long A, long B, long C) kernel, Generator? generator = null, Tensor? w = null, Tensor? h = null,
    bool trainableW = true, bool trainableH = true, Device? device = null)
    : DeconvolutionComponent("NMF3D", vShape, rank, [kernel.A, kernel.B, kernel.C], generator, w, h, trainableW, trainableH, device);
