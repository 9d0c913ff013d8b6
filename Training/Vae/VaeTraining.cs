using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Fitting;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Vae;

/// <summary>The mel-cepstrum VAE recipe; every field can be overridden.</summary>
public sealed record VaeTrainingOptions
{
    /// <summary>Encoder widths.</summary>
    public int[] Hidden { get; init; } = [256, 128];
    /// <summary>Latent dimensions.</summary>
    public int Latent { get; init; } = 64;
    /// <summary>Epochs.</summary>
    public int Epochs { get; init; } = 50;
    /// <summary>Samples per mini-batch.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>The seed's weight initialisation (normal, std 2/fan-in) instead of PyTorch's default.</summary>
    public bool SeedInit { get; init; }
    /// <summary>Seed of weights, sampling and shuffling.</summary>
    public long Seed { get; init; }
    /// <summary>Checkpoint after every epoch, when set.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Continue from the checkpoint.</summary>
    public bool Resume { get; init; }
}

/// <summary>Loss terms of one epoch (batch means, averaged over the epoch's batches).</summary>
public sealed record VaeEpoch(int Epoch, double Loss, double Reconstruction, double Kl);

/// <summary>A trained VAE and its per-epoch loss terms.</summary>
/// <param name="Warnings">What the user should know about the data: dimensions that were constant in training.</param>
public sealed record VaeTrainingResult(VariationalAutoencoder Model, IReadOnlyList<VaeEpoch> Epochs, IReadOnlyList<string> Warnings);

/// <summary>Trains <see cref="VariationalAutoencoder"/> on (N, D) data with the shared training loop.</summary>
public static class VaeTraining
{
    /// <summary>Fits the normalisation, then the network; reports reconstruction and KL terms per epoch.</summary>
    public static VaeTrainingResult Train(NdArray data, VaeTrainingOptions options, IProgress<VaeEpoch>? progress = null, CancellationToken cancellation = default)
    {
        if (data.Shape.Length != 2 || data.Rows < 2) throw new InvalidInputException($"VAE training data must be (N ≥ 2, D), got {data.ShapeText}");
        data.RequireFinite("VAE training data");
        var generator = new Generator(options.Seed);
        var model = new VariationalAutoencoder(data.Columns, options.Hidden, options.Latent, generator, options.SeedInit);
        var constant = model.FitNormalisation(data);
        IReadOnlyList<string> warnings = constant.Count == 0 ? [] :
            [$"{(constant.Count == 1 ? "dimension" : "dimensions")} {IndexRanges.Format(constant)} of {data.Columns} did not vary in training: scaled by 1 instead of by their deviation (the mean is still removed)"];
        Tensor normalised;
        using (Tensor.NoGrad()) normalised = model.Normalise(Tensor.From(data)).Detach();
        var adam = new Adam(model.Parameters(), options.LearningRate);
        var epochs = new List<VaeEpoch>();
        double reconstructionSum = 0, klSum = 0;
        var batches = 0;
        var loop = new TrainingLoop(model, adam, generator, new TrainingLoopOptions
        {
            Epochs = options.Epochs, BatchSize = options.BatchSize, CheckpointPath = options.CheckpointPath, Resume = options.Resume,
        })
        {
            EpochProgress = new Shared.Threading.SynchronousProgress<EpochReport>(e =>
            {
                var entry = new VaeEpoch(e.Epoch, e.TrainLoss, reconstructionSum / batches, klSum / batches);
                epochs.Add(entry);
                progress?.Report(entry);
                (reconstructionSum, klSum, batches) = (0, 0, 0);
            }),
        };
        loop.Run(data.Rows, indices =>
        {
            var x = normalised.IndexSelect(0, indices);
            var (mean, logVariance) = model.Encode(x);
            var z = VariationalAutoencoder.Sample(mean, logVariance, generator);
            var (reconstruction, kl) = VariationalAutoencoder.LossTerms(x, model.Decode(z), mean, logVariance);
            reconstructionSum += reconstruction.Item();
            klSum += kl.Item();
            batches++;
            return reconstruction + kl;
        }, cancellation);
        model.Eval();
        return new VaeTrainingResult(model, epochs, warnings);
    }
}
