using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// Non-negative matrix factor deconvolution (Smaragdis 2004) as torchnmf's NMFD:
/// V[n, i, j] ≈ Σₜ Σᵣ W[i, r, t]·H[n, r, j − t]. V: (N, C, L), W: (C, R, T), H: (N, R, L − T + 1).
/// </summary>
public sealed class Nmfd(long[] vShape, long rank, long window, Generator? generator = null, Tensor? w = null, Tensor? h = null,
    bool trainableW = true, bool trainableH = true, Device? device = null)
    : DeconvolutionComponent("NMFD", vShape, rank, [window], generator, w, h, trainableW, trainableH, device)
{
    /// <summary>The convolution window T.</summary>
    public long Window => Kernel[0];
}
