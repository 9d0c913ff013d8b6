using Pipeline.Shared.Errors;

namespace Pipeline.Training.Optim;

/// <summary>
/// Sets an optimiser's learning rate from the epoch, as <c>torch.optim.lr_scheduler</c>: construction sets
/// epoch 0's rate, and <see cref="Step"/> (once per epoch, after training it) moves to the next epoch.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The optimiser whose rate this sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The optimiser's rate when the schedule was made.</summary>
    public double BaseLearningRate { get; }

    /// <summary>The current epoch (PyTorch's <c>last_epoch</c>).</summary>
    public int Epoch { get; private set; }

    /// <summary>Records the base rate and applies epoch 0.</summary>
    protected LearningRateSchedule(Optimizer optimizer)
    {
        Optimizer = optimizer;
        BaseLearningRate = optimizer.LearningRate;
    }

    /// <summary>Applies epoch 0's rate; derived constructors call it once their fields are set.</summary>
    protected void Start() => Optimizer.LearningRate = LearningRateAt(0);

    /// <summary>The learning rate for <paramref name="epoch"/>.</summary>
    public abstract double LearningRateAt(int epoch);

    /// <summary>Moves to the next epoch.</summary>
    public void Step() => JumpTo(Epoch + 1);

    /// <summary>Sets the epoch directly (when resuming from a checkpoint).</summary>
    public void JumpTo(int epoch)
    {
        if (epoch < 0) throw new InvalidOptionException($"epoch {epoch} is negative");
        Epoch = epoch;
        Optimizer.LearningRate = LearningRateAt(epoch);
    }
}

/// <summary>rate = base · factor(epoch), as <c>LambdaLR</c>.</summary>
public sealed class LambdaSchedule : LearningRateSchedule
{
    readonly Func<int, double> factor;

    /// <summary>Creates the schedule.</summary>
    public LambdaSchedule(Optimizer optimizer, Func<int, double> factor) : base(optimizer)
    {
        this.factor = factor;
        Start();
    }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch) => BaseLearningRate * factor(epoch);

    /// <summary>
    /// The DCASE 2020 Task 2 baseline schedule: factor 1 up to <paramref name="constantEpochs"/>, then falling linearly to
    /// <paramref name="endFactor"/> at <paramref name="endEpoch"/> (and held there). With the defaults and
    /// lr 1e-4 this is 1e-4 for 100 epochs, then down to 1e-6 at epoch 200.
    /// </summary>
    public static LambdaSchedule ConstantThenLinear(Optimizer optimizer, int constantEpochs = 100, int endEpoch = 200, double endFactor = 0.01)
    {
        if (constantEpochs < 0 || endEpoch <= constantEpochs)
            throw new InvalidOptionException($"ConstantThenLinear: need 0 ≤ constant epochs ({constantEpochs}) < end epoch ({endEpoch})");
        return new LambdaSchedule(optimizer, e =>
            e <= constantEpochs ? 1.0 : 1.0 + (Math.Min(e, endEpoch) - constantEpochs) * (endFactor - 1.0) / (endEpoch - constantEpochs));
    }
}

/// <summary>rate = base · γ^⌊epoch / stepSize⌋, as <c>StepLR</c>.</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }
    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <summary>Creates the schedule.</summary>
    public StepSchedule(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize < 1) throw new InvalidOptionException($"StepSchedule: step size must be ≥ 1, got {stepSize}");
        StepSize = stepSize;
        Gamma = gamma;
        Start();
    }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch) => BaseLearningRate * Math.Pow(Gamma, epoch / StepSize);
}

/// <summary>rate = η_min + (base − η_min)(1 + cos(π·epoch/T))/2, as <c>CosineAnnealingLR</c> (closed form).</summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    /// <summary>Half-period T in epochs.</summary>
    public int TMax { get; }
    /// <summary>Lowest rate.</summary>
    public double EtaMin { get; }

    /// <summary>Creates the schedule.</summary>
    public CosineSchedule(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax < 1) throw new InvalidOptionException($"CosineSchedule: T must be ≥ 1, got {tMax}");
        TMax = tMax;
        EtaMin = etaMin;
        Start();
    }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch) => EtaMin + (BaseLearningRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
