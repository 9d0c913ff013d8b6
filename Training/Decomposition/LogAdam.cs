using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

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
    /// <summary>Where LibTorch fits: auto (CUDA when LibTorch sees a GPU), cpu or cuda.</summary>
    public Inference.Runtime.Device Device { get; init; } = Inference.Runtime.Device.Auto;
}

/// <summary>W (F, K), H (K, T) and the loss after every step.</summary>
public sealed record LogAdamResult(NdArray W, NdArray H, IReadOnlyList<double> History);

/// <summary>
/// The log-domain factorisation as a TorchSharp <c>torch.nn.Module</c>: parameters <c>log_W</c> (F, K) and
/// <c>log_H</c> (K, T), so W = exp(ln W) and H = exp(ln H) stay positive under any gradient step.
/// </summary>
public sealed class LogDomainNmf : nn.Module
{
#pragma warning disable IDE0044 // RegisterComponents registers fields by name: "log_W", "log_H"
    Parameter log_W;
    Parameter log_H;
#pragma warning restore IDE0044

    /// <summary>ln W and ln H drawn from N(0, 1) with <paramref name="generator"/>, on <paramref name="device"/>.</summary>
    public LogDomainNmf(int features, int frames, int rank, Generator generator, Device? device = null) : base(nameof(LogDomainNmf))
    {
        log_W = nn.Parameter(randn([features, rank], generator: generator));
        log_H = nn.Parameter(randn([rank, frames], generator: generator));
        RegisterComponents();
        if (device is not null) this.to(device);
    }

    /// <summary>ln W (F, K).</summary>
    public Parameter LogW => log_W;

    /// <summary>ln H (K, T).</summary>
    public Parameter LogH => log_H;

    /// <summary>W·H (F, T).</summary>
    public Tensor Reconstruct() => log_W.exp().matmul(log_H.exp());

    /// <summary>
    /// The loss <paramref name="kind"/> of V (F, T), given ln V as well: Σ (V − WH)², or Σ V·(ln V − ln WH − 1) + WH
    /// with ln WH a logsumexp over components.
    /// </summary>
    public Tensor Loss(Tensor v, Tensor logV, LogAdamLoss kind)
    {
        if (kind == LogAdamLoss.SquaredError) return (v - Reconstruct()).square().sum();
        // ln WH = logsumexp_k(ln W[:, k] + ln H[k, :]), computed as a product: with row maxima a_f of ln W and column
        // maxima b_t of ln H, ln WH = a_f + b_t + ln(exp(ln W − a)·exp(ln H − b)), whose factors lie in (0, 1], so
        // nothing overflows; the product is ≥ exp of the smallest gap and is floored at 1e-30 against a log of 0.
        // One (F, K)·(K, T) product instead of an (F, K, T) tensor and its reduction.
        var rowMax = log_W.detach().amax([1], keepdim: true);
        var columnMax = log_H.detach().amax([0], keepdim: true);
        var logWh = (log_W - rowMax).exp().matmul((log_H - columnMax).exp()).clamp_min(1e-30).log() + rowMax + columnMax;
        return (v * (logV - logWh - 1) + logWh.exp()).sum();
    }
}

/// <summary>
/// NMF by gradient descent in the log domain: V (F, T) ≈ exp(ln W)·exp(ln H), with <c>torch.optim.Adam</c> on
/// ln W and ln H (a <see cref="LogDomainNmf"/>), so W and H stay positive without projections or multiplicative steps.
/// </summary>
public static class LogAdam
{
    /// <summary>Fits V (F, T), non-negative (a floor of 1e-10 is added, as the recipe does, before logarithms).</summary>
    /// <exception cref="InvalidOptionException">The rank, steps or learning rate is out of range.</exception>
    /// <exception cref="InvalidInputException">V is negative, non-finite or empty, or the loss diverged (its step named).</exception>
    public static LogAdamResult Fit(NdArray v, LogAdamOptions options, IProgress<(int Step, double Loss)>? progress = null, CancellationToken cancellation = default)
    {
        v.RequireDecompositionInput("V", "frequency bins", beta: 2);
        if (options.Rank < 1 || options.Steps < 1 || !(options.LearningRate > 0))
            throw new InvalidOptionException($"LogAdam: rank and steps must be ≥ 1 and the learning rate positive (got {options.Rank}, {options.Steps}, {options.LearningRate})");
        var device = TorchDevice.Resolve(options.Device);
        using var generator = new Generator((ulong)options.Seed);
        using var model = new LogDomainNmf(v.Rows, v.Columns, options.Rank, generator, device);
        using var x = (tensor(v.Data, [v.Rows, v.Columns]) + 1e-10).to(device);
        using var logX = x.log();
        using var adam = new FusedAdam(model.parameters(), lr: options.LearningRate);
        var history = new List<double>(options.Steps);
        for (var step = 1; step <= options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            double value;
            using (NewDisposeScope())
            {
                adam.zero_grad();
                var loss = model.Loss(x, logX, options.Loss);
                loss.backward();
                value = loss.item<float>();
                if (!double.IsFinite(value)) throw new InvalidInputException($"LogAdam: the loss became {value} at step {step}; lower the learning rate");
                adam.step();
            }
            history.Add(value);
            progress?.Report((step, value));
        }
        using (no_grad())
            return new LogAdamResult(TorchArrays.ToNdArray(model.LogW.exp()), TorchArrays.ToNdArray(model.LogH.exp()), history);
    }
}
