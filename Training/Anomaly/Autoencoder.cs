using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// The DCASE 2020 Task 2 baseline autoencoder for anomalous sound detection: x: (N, 1280) → (N, 1280) through
/// 1280-512-256-128-256-512-1280. Every hidden layer is Linear → ReLU → BatchNorm1d; the code layer (128)
/// is linear; Dropout sits before the last layer. <see cref="Encoder"/> and <see cref="Decoder"/> are
/// <see cref="Sequential"/>s, so the state names are "encoder.0.weight", "decoder.2.running_mean", ...
/// </summary>
public sealed class Autoencoder : Module
{
    /// <summary>Input (and output) width.</summary>
    public int InputSize { get; }

    /// <summary>x → code.</summary>
    public Sequential Encoder { get; }

    /// <summary>code → reconstruction.</summary>
    public Sequential Decoder { get; }

    /// <summary>
    /// Builds the network. <paramref name="hidden"/> lists the encoder's widths, the last being the code
    /// (the baseline: 512, 256, 128); the decoder mirrors it.
    /// </summary>
    public Autoencoder(int inputSize = 1280, int[]? hidden = null, float dropout = 0.2f, Generator? generator = null)
    {
        hidden ??= [512, 256, 128];
        if (inputSize < 1 || hidden.Length == 0 || hidden.Any(h => h < 1))
            throw new InvalidOptionException($"Autoencoder: sizes must be positive (input {inputSize}, hidden {string.Join("-", hidden)})");
        var g = generator ?? Generator.Default;
        InputSize = inputSize;
        int[] widths = [inputSize, .. hidden];
        var encoder = new List<Module>();
        for (var i = 0; i < hidden.Length; i++)
        {
            encoder.Add(new Linear(widths[i], widths[i + 1], generator: g));
            if (i < hidden.Length - 1) { encoder.Add(new ReLU()); encoder.Add(new BatchNorm1d(widths[i + 1])); }
        }
        var decoder = new List<Module>();
        for (var i = hidden.Length; i > 0; i--)
        {
            decoder.Add(new Linear(widths[i], widths[i - 1], generator: g));
            if (i > 1) { decoder.Add(new ReLU()); decoder.Add(new BatchNorm1d(widths[i - 1])); }
            if (i == 2 && dropout > 0) decoder.Add(new Dropout(dropout, g));
        }
        Encoder = RegisterModule("encoder", new Sequential([.. encoder]));
        Decoder = RegisterModule("decoder", new Sequential([.. decoder]));
    }

    /// <summary>The reconstruction of x: (N, InputSize).</summary>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 2 || input.Size(1) != InputSize)
            throw new InvalidInputException($"Autoencoder: input of shape {Tensor.ShapeText(input.Shape)}; expected (N, {InputSize})");
        return Decoder.Forward(Encoder.Forward(input));
    }
}
