using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>torchnmf's SIPLCA3: shifts along three axes. V (N, C, L, M, O), W (C, R, K₁, K₂, K₃), H (N, R, *(S − K + 1)).</summary>
public sealed class Siplca3(long[] vShape, long rank, (long A, long B, long C) kernel, Generator? generator = null, Device? device = null)
    : Siplca(vShape, rank, [kernel.A, kernel.B, kernel.C], generator, device);
