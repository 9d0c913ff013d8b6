using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Shared.Errors;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Fitting;

/// <summary>How a <see cref="TrainingLoop"/> runs.</summary>
public sealed record TrainingLoopOptions
{
    /// <summary>Total epochs (a resumed job counts the ones already done).</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Samples per mini-batch; the last batch may be smaller (one of a single sample is dropped).</summary>
    public int BatchSize { get; init; } = 100;
    /// <summary>Shuffle the samples each epoch with the job's generator.</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Clip the joint gradient norm to this value before each step, when set.</summary>
    public double? MaxGradNorm { get; init; }
    /// <summary>Where to save a checkpoint after every epoch, when set.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Continue from <see cref="CheckpointPath"/> when it exists.</summary>
    public bool Resume { get; init; }
}

/// <summary>
/// The mini-batch loop every model here trains with: shuffle with the job's generator, compute a loss per
/// batch, back-propagate, clip, step; after each epoch measure validation loss (evaluation mode, no
/// gradients), advance the learning-rate schedule and save a checkpoint. A job killed at any point resumes
/// from its last checkpoint and ends with the same parameters as an uninterrupted run with the same seed.
/// </summary>
public sealed class TrainingLoop(Module model, Optimizer optimizer, Generator generator, TrainingLoopOptions options,
    LearningRateSchedule? schedule = null)
{
    /// <summary>Called after every batch.</summary>
    public IProgress<BatchReport>? BatchProgress { get; init; }

    /// <summary>Called after every epoch.</summary>
    public IProgress<EpochReport>? EpochProgress { get; init; }

    /// <summary>The validation loss, computed after each epoch in evaluation mode without gradients, when set.</summary>
    public Func<double>? Validation { get; init; }

    /// <summary>
    /// Trains on <paramref name="sampleCount"/> samples. <paramref name="batchLoss"/> receives the indices of
    /// one mini-batch and returns its scalar loss (typically gathering rows with <see cref="Tensor.IndexSelect"/>).
    /// </summary>
    public TrainingHistory Run(int sampleCount, Func<int[], Tensor> batchLoss, CancellationToken cancellation = default)
    {
        if (sampleCount < 1) throw new InvalidInputException("there are no training samples");
        if (options.Epochs < 1) throw new InvalidOptionException($"epochs must be ≥ 1, got {options.Epochs}");
        if (options.BatchSize < 1) throw new InvalidOptionException($"batch size must be ≥ 1, got {options.BatchSize}");
        if (options.Resume && options.CheckpointPath is null) throw new InvalidOptionException("resuming needs a checkpoint path");
        if (options.Resume && !File.Exists(options.CheckpointPath)) throw new InvalidOptionException($"cannot resume: there is no checkpoint at {options.CheckpointPath}");

        var trainLoss = new List<double>();
        var validationLoss = new List<double>();
        var done = 0;
        if (options.Resume)
        {
            var meta = Checkpoint.Load(options.CheckpointPath!, model, optimizer, schedule, generator);
            done = int.Parse(meta["loop.epochs_done"], CultureInfo.InvariantCulture);
            if (done > options.Epochs)
                throw new InvalidOptionException($"cannot resume: the checkpoint has {done} epochs done, more than the {options.Epochs} asked for; ask for at least {done} epochs, or run without resuming");
            trainLoss.AddRange(JsonSerializer.Deserialize<double[]>(meta["loop.train_loss"])!);
            validationLoss.AddRange(JsonSerializer.Deserialize<double[]>(meta["loop.validation_loss"])!);
        }
        var resumedFrom = done;
        var batches = (sampleCount + options.BatchSize - 1) / options.BatchSize;
        // a last batch of a single sample is dropped: batch statistics (BatchNorm) are undefined for it
        if (batches > 1 && sampleCount % options.BatchSize == 1) batches--;
        var clock = Stopwatch.StartNew();
        for (var epoch = done + 1; epoch <= options.Epochs; epoch++)
        {
            model.Train();
            var order = options.Shuffle ? generator.Permutation(sampleCount) : Enumerable.Range(0, sampleCount).ToArray();
            double sum = 0;
            for (var b = 0; b < batches; b++)
            {
                cancellation.ThrowIfCancellationRequested();
                var start = b * options.BatchSize;
                var indices = order.AsSpan(start, Math.Min(options.BatchSize, sampleCount - start)).ToArray();
                optimizer.ZeroGrad();
                var loss = batchLoss(indices);
                var value = loss.Item();
                if (!double.IsFinite(value)) throw new TrainingDivergedException(epoch, optimizer.StepCount + 1, value);
                loss.Backward();
                if (options.MaxGradNorm is { } maxNorm) GradientClipping.ClipGradNorm(optimizer.Parameters, maxNorm);
                optimizer.Step();
                sum += value;
                BatchProgress?.Report(new BatchReport(epoch, options.Epochs, b + 1, batches, value));
            }
            trainLoss.Add(sum / batches);
            if (Validation is not null)
            {
                model.Eval();
                using (Tensor.NoGrad()) validationLoss.Add(Validation());
                model.Train();
            }
            var rate = optimizer.LearningRate;
            schedule?.Step();
            if (options.CheckpointPath is not null)
                Checkpoint.Save(options.CheckpointPath, model, optimizer, schedule, generator, new Dictionary<string, string>
                {
                    ["loop.epochs_done"] = epoch.ToString(CultureInfo.InvariantCulture),
                    ["loop.train_loss"] = JsonSerializer.Serialize(trainLoss),
                    ["loop.validation_loss"] = JsonSerializer.Serialize(validationLoss),
                });
            var ran = epoch - resumedFrom;
            var remaining = TimeSpan.FromTicks(clock.Elapsed.Ticks / ran * (options.Epochs - epoch));
            EpochProgress?.Report(new EpochReport(epoch, options.Epochs, trainLoss[^1], Validation is null ? null : validationLoss[^1], rate, clock.Elapsed, remaining));
        }
        return new TrainingHistory(trainLoss, validationLoss, resumedFrom);
    }
}
