using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>The divergence <see cref="LogAdam"/> minimises.</summary>
public enum LogAdamLoss
{
    /// <summary>Σ (V − WH)².</summary>
    SquaredError,
    /// <summary>Σ V·(ln V − ln WH − 1) + WH, with ln WH = logsumexp over components (no overflow, no log of 0).</summary>
    IDivergence,
}

/// <summary>Settings of <see cref="LogAdam.Fit"/> (the log-domain Adam NMF recipe's defaults).</summary>
public sealed record LogAdamOptions
{
    /// <summary>Components K.</summary>
    public int Rank { get; init; } = 20;
    /// <summary>Adam's step size (the recipe: 0.1; 0.001 is far too slow for NMF).</summary>
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Adam steps.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>The divergence.</summary>
    public LogAdamLoss Loss { get; init; } = LogAdamLoss.IDivergence;
    /// <summary>Seed of the standard-normal start of ln W and ln H.</summary>
    public long Seed { get; init; }
}

/// <summary>W (F, K), H (K, T) and the loss after every step.</summary>
public sealed record LogAdamResult(NdArray W, NdArray H, IReadOnlyList<double> History);

/// <summary>
/// NMF by gradient descent in the log domain: V (F, T) ≈ exp(ln W)·exp(ln H), with Adam on ln W and
/// ln H, so W and H stay positive without projections or multiplicative steps.
/// </summary>
public static class LogAdam
{
    /// <summary>Fits V (F, T), non-negative (a floor of 1e-10 is added, as the seed does, before logarithms).</summary>
    public static LogAdamResult Fit(NdArray v, LogAdamOptions options, IProgress<(int Step, double Loss)>? progress = null)
    {
        v.RequireDecompositionInput("V", "frequency bins", beta: 2);
        if (options.Rank < 1 || options.Steps < 1 || !(options.LearningRate > 0))
            throw new InvalidOptionException($"LogAdam: rank and steps must be ≥ 1 and the learning rate positive (got {options.Rank}, {options.Steps}, {options.LearningRate})");
        int f = v.Rows, t = v.Columns, k = options.Rank;
        var x = Tensor.From(v) + 1e-10f;
        Tensor lx;
        using (Tensor.NoGrad()) lx = x.Log();
        var g = new Generator(options.Seed);
        var lw = new Parameter(Tensor.Randn(g, f, k));
        var lh = new Parameter(Tensor.Randn(g, k, t));
        var adam = new Adam([lw, lh], options.LearningRate);
        Tensor Loss() => options.Loss == LogAdamLoss.SquaredError
            ? (x - lw.Exp().MatMul(lh.Exp())).Square().Sum()
            : LogDomainIDivergence(x, lx, lw, lh);
        var history = new List<double>(options.Steps);
        for (var step = 1; step <= options.Steps; step++)
        {
            adam.ZeroGrad();
            var loss = Loss();
            var value = loss.Item();
            if (!double.IsFinite(value)) throw new InvalidInputException($"LogAdam: the loss became {value} at step {step}; lower the learning rate");
            loss.Backward();
            adam.Step();
            history.Add(value);
            progress?.Report((step, value));
        }
        using (Tensor.NoGrad())
            return new LogAdamResult(lw.Exp().ToNdArray(), lh.Exp().ToNdArray(), history);
    }

    /// <summary>Σ x·(ln x − ln WH − 1) + WH with ln WH = logsumexp_k(ln W[:, k] + ln H[k, :]).</summary>
    static Tensor LogDomainIDivergence(Tensor x, Tensor lx, Tensor lw, Tensor lh)
    {
        int f = lw.Size(0), k = lw.Size(1), t = lh.Size(1);
        var lwh = (lw.Reshape(f, k, 1) + lh.Reshape(1, k, t)).LogSumExp(1);
        return (x * (lx - lwh - 1f) + lwh.Exp()).Sum();
    }
}
