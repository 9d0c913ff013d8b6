using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>torchnmf's SIPLCA2: shifts along two axes. V (N, C, L, M), W (C, R, K₁, K₂), H (N, R, L − K₁ + 1, M − K₂ + 1).</summary>
public sealed class Siplca2(long[] vShape, long rank, (long Rows, long Columns) kernel, Generator? generator = null, Device? device = null)
    : Siplca(vShape, rank, [kernel.Rows, kernel.Columns], generator, device);
