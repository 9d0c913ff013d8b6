using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// A network that judges frames by an error of its own (the autoencoder's reconstruction error, the interpolation
/// network's prediction error): training minimises its mean, an anomaly score aggregates it over a file's frames.
/// </summary>
public interface IFrameErrorNetwork
{
    /// <summary>Values per input row (a context window of frames).</summary>
    int InputSize { get; }

    /// <summary>Each row's error: rows (N, <see cref="InputSize"/>) → (N), the mean of <see cref="Residuals"/>.</summary>
    Tensor FrameErrors(Tensor rows);

    /// <summary>Each output value's squared error: rows (N, <see cref="InputSize"/>) → (N, outputs).</summary>
    Tensor Residuals(Tensor rows);
}
