using Pipeline.Training.Engine;
using Pipeline.Shared.Errors;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Networks;

/// <summary>How <see cref="AutoencoderTrainer"/> trains: the DCASE 2020 Task 2 baseline's settings by default.</summary>
public sealed record AutoencoderTrainingOptions
{
    /// <summary>Passes over the data. Default 200.</summary>
    public int Epochs { get; init; } = 200;
    /// <summary>Epochs at the initial rate before it falls linearly to <see cref="FinalLearningRate"/> at the last epoch. Default 100.</summary>
    public int ConstantEpochs { get; init; } = 100;
    /// <summary>Adam's initial learning rate. Default 1e-4.</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>The rate the schedule reaches at the last epoch. Default 1e-6.</summary>
    public double FinalLearningRate { get; init; } = 1e-6;
    /// <summary>Adam's L2 weight decay. Default 1e-4.</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Rows per mini-batch; a last batch of one row is dropped (BatchNorm needs two). Default 100.</summary>
    public int BatchSize { get; init; } = 100;
    /// <summary>Seeds LibTorch's generator (weights, dropout) and the shuffling. Default 0.</summary>
    public long Seed { get; init; }
    /// <summary>Where the job's state is written after every epoch (<see cref="TorchCheckpoint"/>), when set.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Continue from <see cref="CheckpointPath"/>: a job killed after epoch k ends as an uninterrupted one would.</summary>
    public bool Resume { get; init; }

    /// <summary>Every problem of these settings, each as one phrase; empty when there is none.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Epochs < 1) problems.Add($"epochs must be ≥ 1 (got {Epochs})");
        if (ConstantEpochs < 0 || ConstantEpochs > Epochs) problems.Add($"constant epochs must lie in [0, epochs = {Epochs}] (got {ConstantEpochs})");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) problems.Add($"the learning rate must be positive (got {LearningRate})");
        if (!(FinalLearningRate > 0) || FinalLearningRate > LearningRate) problems.Add($"the final learning rate must lie in (0, {LearningRate}] (got {FinalLearningRate})");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) problems.Add($"weight decay must be ≥ 0 (got {WeightDecay})");
        if (BatchSize < 2) problems.Add($"the batch size must be ≥ 2 (BatchNorm needs two rows; got {BatchSize})");
        if (Resume && CheckpointPath is null) problems.Add("resuming needs a checkpoint path");
        return problems;
    }

    /// <summary>Every problem at once, as an <see cref="InvalidOptionException"/>; returns this when there is none.</summary>
    public AutoencoderTrainingOptions Validate()
    {
        if (Problems() is { Count: > 0 } problems) throw new InvalidOptionException(string.Join("; ", problems));
        return this;
    }

    /// <summary>The learning rate's factor in epoch e (0-based): 1 until <see cref="ConstantEpochs"/>, then linear to final/initial at the last epoch.</summary>
    public double RateFactor(int epoch)
    {
        var end = FinalLearningRate / LearningRate;
        if (epoch < ConstantEpochs || Epochs - 1 <= ConstantEpochs) return epoch < ConstantEpochs ? 1.0 : end;
        return 1.0 + (Math.Min(epoch, Epochs - 1) - ConstantEpochs) * (end - 1.0) / (Epochs - 1 - ConstantEpochs);
    }
}

/// <summary>
/// Trains an <see cref="Autoencoder"/> to reconstruct its input: <c>torch.optim.Adam</c> with weight decay, a
/// <c>LambdaLR</c> schedule stepped per epoch, MSE loss, through the shared <see cref="EpochLoop"/> (shuffling,
/// a dispose scope per step, checkpoints). Same seed, same thread count, same device: same model, also across a resume.
/// </summary>
public static class AutoencoderTrainer
{
    /// <summary>
    /// Trains <paramref name="model"/> (already on its device) on the rows of <paramref name="data"/> (N, D) and
    /// returns the mean training loss of each epoch (and the validation loss, when <paramref name="hooks"/> measures one).
    /// </summary>
    /// <exception cref="InvalidInputException">The data is not (N ≥ 2, D) or holds NaN or ±∞.</exception>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite (its epoch and step named).</exception>
    /// <exception cref="InvalidFileException">The checkpoint to resume from is missing, damaged or of another architecture.</exception>
    public static TrainingHistory Fit(Autoencoder model, Tensor data, AutoencoderTrainingOptions options,
        TrainingHooks? hooks = null, CancellationToken cancellation = default)
    {
        options.Validate();
        if (data.dim() != 2 || data.shape[1] != model.InputSize || data.shape[0] < 2)
            throw new InvalidInputException($"autoencoder training: data of shape ({string.Join(", ", data.shape)}); expected (N ≥ 2, {model.InputSize})");
        // max and min propagate NaN: two passes and no temporary the size of the data (isfinite().all() made three)
        using (NewDisposeScope())
            if (!double.IsFinite(data.max().ToDouble()) || !double.IsFinite(data.min().ToDouble()))
                throw new InvalidInputException("autoencoder training: the data holds NaN or infinite values");
        var device = model.parameters().First().device;
        // the caller's tensor is theirs: only a copy made for another device is disposed here
        using var moved = data.device == device ? null : data.to(device);
        var rows = moved ?? data;
        return Fit(model, rows.shape[0], indices => rows.index_select(0, indices.to(device)), options, hooks, cancellation);
    }

    /// <summary>
    /// Trains on <paramref name="rowCount"/> rows that <paramref name="gather"/> assembles on demand: given the
    /// indices of a mini-batch (a CPU int64 tensor) it returns their (B, D) rows on the model's device. This is how
    /// data too large to hold as one tensor trains (context windows stacked from per-frame features, for example).
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite (its epoch and step named).</exception>
    /// <exception cref="InvalidFileException">The checkpoint to resume from is missing, damaged or of another architecture.</exception>
    /// <remarks>Any <see cref="IFrameErrorNetwork"/> trains this way (the interpolation network too): the loss is the mean of its frame errors.</remarks>
    public static TrainingHistory Fit<TNetwork>(TNetwork model, long rowCount, Func<Tensor, Tensor> gather, AutoencoderTrainingOptions options,
        TrainingHooks? hooks = null, CancellationToken cancellation = default) where TNetwork : nn.Module, IFrameErrorNetwork =>
        Fit((nn.Module)model, rowCount, indices => model.FrameErrors(gather(indices)).mean(), options, hooks, cancellation);

    /// <summary>
    /// Trains any module by the same recipe on <paramref name="rowCount"/> rows: <paramref name="batchLoss"/> gets a
    /// mini-batch's row indices (a CPU int64 tensor) and returns its scalar loss (the machine-ID classifier's cross-entropy, say).
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite (its epoch and step named).</exception>
    /// <exception cref="InvalidFileException">The checkpoint to resume from is missing, damaged or of another architecture.</exception>
    public static TrainingHistory Fit(nn.Module model, long rowCount, Func<Tensor, Tensor> batchLoss, AutoencoderTrainingOptions options,
        TrainingHooks? hooks = null, CancellationToken cancellation = default)
    {
        options.Validate();
        using var optimizer = new FusedAdam(model.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
        var schedule = optim.lr_scheduler.LambdaLR(optimizer, options.RateFactor);
        return EpochLoop.Run(model, optimizer, schedule, rowCount, batchLoss, new EpochLoopOptions(options.Epochs, options.BatchSize, options.Seed, options.CheckpointPath, options.Resume)
        {
            Settings = new Dictionary<string, string>
            {
                ["learning rate"] = options.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                ["final learning rate"] = options.FinalLearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                ["constant epochs"] = options.ConstantEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["weight decay"] = options.WeightDecay.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            },
        }, hooks, cancellation);
    }
}
