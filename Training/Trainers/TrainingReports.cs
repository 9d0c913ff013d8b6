using System.Globalization;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Trainers;

/// <summary>Progress after one mini-batch.</summary>
public sealed record BatchReport(int Epoch, int Epochs, int Batch, int Batches, double Loss);

/// <summary>Progress after one epoch; <see cref="Remaining"/> extrapolates the epochs run in this process.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double? ValidationLoss, double LearningRate, TimeSpan Elapsed, TimeSpan Remaining);

/// <summary>Mean training loss (and validation loss, when measured) per epoch, including epochs done before a resume.</summary>
public sealed record TrainingHistory(IReadOnlyList<double> TrainLoss, IReadOnlyList<double> ValidationLoss, int ResumedFromEpoch);

/// <summary>A loss that became NaN or infinite: training stops at that step instead of writing a broken model.</summary>
public sealed class TrainingDivergedException(int epoch, long step, double loss)
    : PipelineException($"the training loss became {loss.ToString(CultureInfo.InvariantCulture)} at epoch {epoch}, step {step}; lower the learning rate or check the input for NaN/Inf")
{
    /// <summary>Epoch (1-based) of the bad step.</summary>
    public int Epoch { get; } = epoch;
    /// <summary>Optimiser step number (1-based) that produced the bad loss.</summary>
    public long Step { get; } = step;
}

/// <summary>What a trainer tells its caller while it runs; every member is optional.</summary>
public sealed record TrainingHooks
{
    /// <summary>Hears every mini-batch's loss, on the training thread.</summary>
    public IProgress<BatchReport>? Batches { get; init; }
    /// <summary>Hears every epoch's losses, rate and timing, on the training thread.</summary>
    public IProgress<EpochReport>? Epochs { get; init; }
    /// <summary>The validation loss, measured after each epoch in evaluation mode without gradients, when set.</summary>
    public Func<double>? Validation { get; init; }
}
