using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Vae;

/// <summary>The mel-cepstrum VAE recipe; every field can be overridden.</summary>
public sealed record VaeTrainingOptions
{
    /// <summary>Encoder widths. Default 256, 128.</summary>
    public int[] Hidden { get; init; } = [256, 128];
    /// <summary>Latent dimensions. Default 64.</summary>
    public int Latent { get; init; } = 64;
    /// <summary>Epochs. Default 50.</summary>
    public int Epochs { get; init; } = 50;
    /// <summary>Samples per mini-batch. Default 128.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Adam's learning rate. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>The recipe's weight initialisation (normal, std 2/fan-in) instead of PyTorch's default.</summary>
    public bool RecipeInit { get; init; }
    /// <summary>Seed of weights, sampling and shuffling.</summary>
    public long Seed { get; init; }
    /// <summary>Where LibTorch trains: auto (CUDA when LibTorch sees a GPU), cpu or cuda.</summary>
    public Inference.Runtime.Device Device { get; init; } = Inference.Runtime.Device.Auto;
    /// <summary>
    /// LibTorch's intra-op threads while training on the CPU; null: the host's <c>--threads</c> when given, else one
    /// (a step's operations are too small to split: an epoch took 1.34 s on one thread against 1.62 s on two here).
    /// </summary>
    public int? Threads { get; init; }
    /// <summary>Checkpoint after every epoch, when set.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Continue from the checkpoint.</summary>
    public bool Resume { get; init; }

    /// <summary>Every problem at once, as an <see cref="InvalidOptionException"/>; returns this when there is none.</summary>
    public VaeTrainingOptions Validate()
    {
        var problems = new List<string>();
        if (Hidden.Length == 0 || Hidden.Any(h => h < 1)) problems.Add($"hidden widths must be positive (got {string.Join(",", Hidden)})");
        if (Latent < 1) problems.Add($"the latent size must be ≥ 1 (got {Latent})");
        if (Epochs < 1) problems.Add($"epochs must be ≥ 1 (got {Epochs})");
        if (BatchSize < 2) problems.Add($"the batch size must be ≥ 2 (got {BatchSize})");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) problems.Add($"the learning rate must be positive (got {LearningRate})");
        if (Threads is < 1) problems.Add($"threads must be ≥ 1 (got {Threads})");
        if (Resume && CheckpointPath is null) problems.Add("resuming needs a checkpoint path");
        if (problems.Count > 0) throw new InvalidOptionException("VAE training: " + string.Join("; ", problems));
        return this;
    }
}

/// <summary>Loss terms of one epoch (batch means, averaged over the epoch's batches).</summary>
public sealed record VaeEpoch(int Epoch, double Loss, double Reconstruction, double Kl);

/// <summary>A trained VAE and the loss terms of the epochs run in this process.</summary>
/// <param name="Warnings">What the user should know about the data: dimensions that were constant in training.</param>
public sealed record VaeTrainingResult(VariationalAutoencoder Model, IReadOnlyList<VaeEpoch> Epochs, IReadOnlyList<string> Warnings);

/// <summary>
/// Trains <see cref="VariationalAutoencoder"/> on (N, D) data: <c>torch.optim.Adam</c>, the negative ELBO with one
/// latent sample per row, through the shared <see cref="EpochLoop"/> (shuffling, a dispose scope per step, checkpoints).
/// </summary>
public static class VaeTraining
{
    /// <summary>Fits the normalisation, then the network; reports reconstruction and KL terms per epoch.</summary>
    /// <exception cref="InvalidInputException">The data is not (N ≥ 2, D) or holds NaN or ±∞.</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    public static VaeTrainingResult Train(NdArray data, VaeTrainingOptions options, IProgress<VaeEpoch>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        if (data.Shape.Length != 2 || data.Rows < 2) throw new InvalidInputException($"VAE training data must be (N ≥ 2, D), got {data.ShapeText}");
        data.RequireFinite("VAE training data");
        var device = TorchDevice.Resolve(options.Device);
        using var threads = TorchDevice.SmallWorkThreads(options.Threads);
        manual_seed(options.Seed); // weights and latent samples
        var model = new VariationalAutoencoder(data.Columns, options.Hidden, options.Latent, options.RecipeInit, device);
        var constant = model.FitNormalisation(data);
        IReadOnlyList<string> warnings = constant.Count == 0 ? [] :
            [$"{(constant.Count == 1 ? "dimension" : "dimensions")} {IndexRanges.Format(constant)} of {data.Columns} did not vary in training: scaled by 1 instead of by their deviation (the mean is still removed)"];
        using var raw = tensor(data.Data, [data.Rows, data.Columns]);
        using var normalised = model.Normalise(raw.to(device)).detach();
        using var optimizer = new FusedAdam(model.parameters(), lr: options.LearningRate);
        var epochs = new List<VaeEpoch>();
        double reconstructionSum = 0, klSum = 0;
        var batches = 0;
        EpochLoop.Run(model, optimizer, null, data.Rows, indices =>
        {
            var x = normalised.index_select(0, indices.to(device));
            var (mean, logVariance) = model.Encode(x);
            var (reconstruction, kl) = VariationalAutoencoder.LossTerms(x, model.Decode(VariationalAutoencoder.Sample(mean, logVariance)), mean, logVariance);
            reconstructionSum += reconstruction.item<float>();
            klSum += kl.item<float>();
            batches++;
            return reconstruction + kl;
        }, new EpochLoopOptions(options.Epochs, options.BatchSize, options.Seed, options.CheckpointPath, options.Resume)
        {
            Settings = new Dictionary<string, string> { ["learning rate"] = options.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture) },
        }, new TrainingHooks
        {
            Epochs = new Shared.Threading.SynchronousProgress<EpochReport>(e =>
            {
                var entry = new VaeEpoch(e.Epoch, e.TrainLoss, reconstructionSum / batches, klSum / batches);
                epochs.Add(entry);
                progress?.Report(entry);
                (reconstructionSum, klSum, batches) = (0, 0, 0);
            }),
        }, cancellation);
        return new VaeTrainingResult(model, epochs, warnings);
    }
}
