using Pipeline.Shared.Errors;
using Pipeline.Training.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Trainers;

/// <summary>What every mini-batch job shares: how long, how big, which seed, where its checkpoint goes.</summary>
/// <param name="Epochs">Passes over the rows (a resumed job counts the ones already done).</param>
/// <param name="BatchSize">Rows per step; a last batch of one row is dropped (BatchNorm has no statistics for it).</param>
/// <param name="Seed">Seeds the shuffling generator (the model's own randomness is LibTorch's global generator).</param>
/// <param name="CheckpointPath">Where <see cref="TorchCheckpoint"/> writes the job after every epoch, when set.</param>
/// <param name="Resume">Continue from <paramref name="CheckpointPath"/>.</param>
public sealed record EpochLoopOptions(int Epochs, int BatchSize, long Seed, string? CheckpointPath = null, bool Resume = false)
{
    /// <summary>
    /// The trainer's own settings (learning rate, weight decay, ...) by a name a user reads; kept in the checkpoint
    /// with the batch size and seed, and a resume that asks for other values is refused naming them. The number of
    /// epochs may grow.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary><see cref="Settings"/> with the batch size and the seed.</summary>
    internal IReadOnlyDictionary<string, string> AllSettings() => new Dictionary<string, string>(Settings)
    {
        ["batch size"] = BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["seed"] = Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// The mini-batch loop the TorchSharp trainers share, in TorchSharp's idiom: each epoch shuffles the rows with a
/// generator of the job's own, runs one step per batch inside a dispose scope (so no tensor outlives it), stops at
/// a NaN or infinite loss naming its epoch and step, steps the learning-rate schedule, measures the validation loss
/// in evaluation mode without gradients, and writes a checkpoint. A job killed after epoch k and resumed ends with
/// the model an uninterrupted job makes (same seed, threads and device).
/// </summary>
public static class EpochLoop
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="rowCount"/> rows. <paramref name="batchLoss"/> gets the rows of one
    /// mini-batch (a CPU int64 tensor of indices) and returns its scalar loss; the loop back-propagates and steps.
    /// Returns the mean loss of every epoch (and the validation loss, when <paramref name="hooks"/> measures one).
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="InvalidFileException">The checkpoint to resume from is missing, damaged or of another architecture.</exception>
    /// <exception cref="InvalidOptionException">The checkpoint is further into the job than the epochs asked for.</exception>
    public static TrainingHistory Run(nn.Module model, OptimizerHelper optimizer, optim.lr_scheduler.LRScheduler? schedule, long rowCount,
        Func<Tensor, Tensor> batchLoss, EpochLoopOptions options, TrainingHooks? hooks = null, CancellationToken cancellation = default)
    {
        if (rowCount < 2) throw new InvalidInputException($"training needs at least 2 rows (got {rowCount})");
        using var shuffling = new Generator((ulong)options.Seed);
        var (losses, validation) = (new List<double>(), new List<double>());
        var first = 0;
        if (options.Resume)
        {
            var progress = TorchCheckpoint.Load(options.CheckpointPath ?? throw new InvalidOptionException("resuming needs a checkpoint path"), model, optimizer, shuffling);
            if (progress.EpochsDone > options.Epochs)
                throw new InvalidOptionException($"the checkpoint is {progress.EpochsDone} epochs into the job, past the {options.Epochs} asked for; ask for at least {progress.EpochsDone} epochs, or start again without resuming");
            var asked = options.AllSettings();
            var changed = asked.Keys.Union(progress.Settings.Keys).Order(StringComparer.Ordinal)
                .Where(k => !(asked.TryGetValue(k, out var a) && progress.Settings.TryGetValue(k, out var b) && a == b)).ToList();
            if (changed.Count > 0)
                throw new InvalidOptionException($"the checkpoint was written with {Describe(progress.Settings, changed)}; this job asks for {Describe(asked, changed)}: resume with the checkpoint's settings, or start again without resuming");
            (first, losses, validation) = (progress.EpochsDone, [.. progress.Losses], [.. progress.ValidationLosses]);
            for (var e = 0; e < first; e++) schedule?.step();
        }
        var batches = (int)((rowCount - 1 + options.BatchSize - 1) / options.BatchSize);
        var step = (long)first * batches;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var epoch = first; epoch < options.Epochs; epoch++)
        {
            model.train();
            using var order = randperm(rowCount, generator: shuffling);
            var rate = optimizer.ParamGroups.First().LearningRate;
            double sum = 0;
            for (var b = 0; b < batches; b++)
            {
                cancellation.ThrowIfCancellationRequested();
                float value;
                using (NewDisposeScope())
                {
                    var start = (long)b * options.BatchSize;
                    optimizer.zero_grad();
                    var loss = batchLoss(order.narrow(0, start, Math.Min(options.BatchSize, rowCount - start)));
                    loss.backward();
                    optimizer.step();
                    value = loss.item<float>();
                }
                step++;
                if (!float.IsFinite(value)) throw new TrainingDivergedException(epoch + 1, step, value);
                sum += value;
                hooks?.Batches?.Report(new BatchReport(epoch + 1, options.Epochs, b + 1, batches, value));
            }
            schedule?.step();
            losses.Add(sum / batches);
            if (hooks?.Validation is { } measure)
            {
                model.eval();
                using (no_grad()) using (NewDisposeScope()) validation.Add(measure());
            }
            if (options.CheckpointPath is { } path) TorchCheckpoint.Save(path, model, optimizer, shuffling, new TorchCheckpoint.Progress(epoch + 1, losses, validation, options.AllSettings()));
            var ran = epoch + 1 - first;
            hooks?.Epochs?.Report(new EpochReport(epoch + 1, options.Epochs, losses[^1], hooks.Validation is null ? null : validation[^1], rate,
                clock.Elapsed, TimeSpan.FromTicks(clock.Elapsed.Ticks / ran * (options.Epochs - epoch - 1))));
        }
        model.eval();
        return new TrainingHistory(losses, validation, first);
    }

    static string Describe(IReadOnlyDictionary<string, string> settings, IEnumerable<string> names) =>
        string.Join(", ", names.Select(n => $"{n} {(settings.TryGetValue(n, out var v) ? v : "(none)")}"));
}
