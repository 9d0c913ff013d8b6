using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// A dense autoencoder as a TorchSharp <c>torch.nn.Module</c>: x (N, D) → (N, D) through the encoder's widths and
/// their mirror. Every hidden layer is Linear → ReLU → BatchNorm1d (momentum 0.1, eps 1e-5); the code layer is
/// linear; Dropout sits before the last layer. <see cref="Dcase2020Baseline"/> builds the DCASE 2020 Task 2
/// baseline, 1280-512-256-128-256-512-1280. The state dict names follow PyTorch's for the same network written
/// with two <c>nn.Sequential</c>s: "encoder.0.weight", "decoder.2.running_mean", ...
/// </summary>
/// <remarks>Weights start as PyTorch's <c>nn.Linear</c> starts them (Kaiming-uniform), from LibTorch's generator:
/// seed it with <c>torch.manual_seed</c> first for a reproducible model.</remarks>
public sealed class Autoencoder : nn.Module<Tensor, Tensor>, IFrameErrorNetwork
{
    /// <summary>Input (and output) width D.</summary>
    public int InputSize { get; }

    /// <summary>The encoder's widths, the last being the code.</summary>
    public IReadOnlyList<int> Hidden { get; }

#pragma warning disable IDE0044 // RegisterComponents registers fields by name: "encoder", "decoder"
    readonly Sequential encoder;
    readonly Sequential decoder;
#pragma warning restore IDE0044

    /// <summary>x → code.</summary>
    public Sequential Encoder => encoder;

    /// <summary>code → reconstruction.</summary>
    public Sequential Decoder => decoder;

    /// <summary>Builds the network on <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="InvalidOptionException">A width is not positive, or the dropout is outside [0, 1).</exception>
    public Autoencoder(int inputSize, IReadOnlyList<int> hidden, double dropout = 0.2, Device? device = null) : base(nameof(Autoencoder))
    {
        if (inputSize < 1 || hidden.Count == 0 || hidden.Any(h => h < 1))
            throw new InvalidOptionException($"autoencoder: widths must be positive (input {inputSize}, hidden {string.Join("-", hidden)})");
        if (!(dropout >= 0 && dropout < 1)) throw new InvalidOptionException($"autoencoder: dropout must lie in [0, 1), got {dropout}");
        (InputSize, Hidden) = (inputSize, hidden.ToArray());
        int[] widths = [inputSize, .. hidden];
        var encoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < hidden.Count; i++)
        {
            encoderLayers.Add(nn.Linear(widths[i], widths[i + 1]));
            if (i < hidden.Count - 1) encoderLayers.AddRange([nn.ReLU(), nn.BatchNorm1d(widths[i + 1])]);
        }
        var decoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = hidden.Count; i > 0; i--)
        {
            decoderLayers.Add(nn.Linear(widths[i], widths[i - 1]));
            if (i > 1) decoderLayers.AddRange([nn.ReLU(), nn.BatchNorm1d(widths[i - 1])]);
            if (i == 2 && dropout > 0) decoderLayers.Add(nn.Dropout(dropout));
        }
        encoder = nn.Sequential(encoderLayers);
        decoder = nn.Sequential(decoderLayers);
        RegisterComponents();
        if (device is not null) this.to(device);
    }

    /// <summary>The DCASE 2020 Task 2 baseline: 1280-512-256-128-256-512-1280, dropout 0.2.</summary>
    public static Autoencoder Dcase2020Baseline(int inputSize = 1280, Device? device = null) => new(inputSize, [512, 256, 128], 0.2, device);

    /// <summary>The reconstruction of x: (N, <see cref="InputSize"/>).</summary>
    /// <exception cref="InvalidInputException">x is not (N, InputSize).</exception>
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 2 || input.shape[1] != InputSize)
            throw new InvalidInputException($"autoencoder: input of shape ({string.Join(", ", input.shape)}); expected (N, {InputSize})");
        return decoder.forward(encoder.forward(input));
    }

    /// <summary>Each row's mean squared reconstruction error: (N).</summary>
    public Tensor FrameErrors(Tensor rows)
    {
        using var residuals = Residuals(rows);
        return residuals.mean([1]);
    }

    /// <summary>Each value's squared reconstruction error: (N, <see cref="InputSize"/>).</summary>
    public Tensor Residuals(Tensor rows)
    {
        using var estimate = forward(rows);
        return nn.functional.mse_loss(estimate, rows, nn.Reduction.None);
    }
}
