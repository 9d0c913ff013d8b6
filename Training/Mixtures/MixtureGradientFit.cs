using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Mixtures;

/// <summary>Gradient-fitting settings.</summary>
public sealed record GmmGradientOptions
{
    /// <summary>Optimiser step size.</summary>
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Full-batch steps.</summary>
    public int Steps { get; init; } = 300;
    /// <summary>Plain SGD instead of Adam.</summary>
    public bool Sgd { get; init; }
    /// <summary>Seed of the k-means++ start.</summary>
    public long Seed { get; init; }
    /// <summary>
    /// Floor of every variance (the diagonal of each covariance), held after every step by projection, as EM's
    /// <see cref="GmmEmOptions.RegCovar"/> holds it: a constant dimension cannot drive its variance, and the
    /// likelihood, to infinity.
    /// </summary>
    public double RegCovar { get; init; } = 1e-6;
    /// <summary>Where LibTorch fits: auto (CUDA when LibTorch sees a GPU), cpu or cuda.</summary>
    public Inference.Runtime.Device Device { get; init; } = Inference.Runtime.Device.Auto;
    /// <summary>Stop once the mean log-likelihood moves less than this over <see cref="MixtureGradientFit.ToleranceWindow"/> steps (0: run every step).</summary>
    public double Tolerance { get; init; }
}

/// <summary>
/// A mixture's parameters in the unconstrained form gradient steps take, as a TorchSharp <c>torch.nn.Module</c>:
/// <c>logits</c> (K; weights = softmax), <c>means</c> (K, D), and <c>shape</c>: log σ (K, D) for diagonal mixtures, or
/// (K, D, D) whose upper triangle is each component's precision Cholesky factor P (Σ⁻¹ = P·Pᵀ) with its diagonal
/// stored as log Pᵢᵢ (so it stays positive); the lower triangle is unused.
/// </summary>
public sealed class MixtureParameters : nn.Module
{
#pragma warning disable IDE0044 // RegisterComponents registers fields by name
    Parameter logits;
    Parameter means;
    Parameter shape;
#pragma warning restore IDE0044

    /// <summary>Full covariances (else diagonal).</summary>
    public bool Full { get; }

    /// <summary>The parameters of <paramref name="mixture"/> (fitted or initialised), on <paramref name="device"/>.</summary>
    public MixtureParameters(GaussianMixture mixture, Device device) : base(nameof(MixtureParameters))
    {
        int k = mixture.Components, d = mixture.Dimensions;
        Full = mixture.Covariance == CovarianceType.Full;
        logits = nn.Parameter(tensor(mixture.Weights.Select(w => (float)Math.Log(w)).ToArray()));
        means = nn.Parameter(tensor(mixture.Means.Select(m => (float)m).ToArray(), [k, d]));
        shape = nn.Parameter(Full ? tensor(RawFactors(mixture), [k, d, d]) : tensor(mixture.Covariances.Select(v => (float)(0.5 * Math.Log(v))).ToArray(), [k, d]));
        RegisterComponents();
        this.to(device);
    }

    /// <summary>Each component's P with its diagonal replaced by log Pᵢᵢ (upper triangle; zeros below).</summary>
    static float[] RawFactors(GaussianMixture mixture)
    {
        int k = mixture.Components, d = mixture.Dimensions;
        var factors = mixture.PrecisionFactors();
        var raw = new float[k * d * d];
        for (var c = 0; c < k; c++)
            for (var i = 0; i < d; i++)
                for (var j = i; j < d; j++)
                {
                    var v = factors[c * d * d + i * d + j];
                    raw[c * d * d + i * d + j] = (float)(i == j ? Math.Log(v) : v);
                }
        return raw;
    }

    /// <summary>
    /// log p(x) of every row of x (N, D): log-sum-exp over components of log wₖ + log|Pₖ| − ½‖(x − μₖ)·Pₖ‖² − (D/2) log 2π,
    /// so no density underflows.
    /// </summary>
    public Tensor LogLikelihood(Tensor x)
    {
        var d = x.shape[1];
        var logWeights = logits.log_softmax(0);
        var centred = x.unsqueeze(0) - means.unsqueeze(1); // (K, N, D)
        Tensor y, logDet;
        if (Full)
        {
            var diagonal = shape.diagonal(0, 1, 2); // log Pᵢᵢ, (K, D)
            var p = shape.triu(1) + diag_embed(diagonal.exp());
            y = centred.bmm(p);
            logDet = diagonal.sum(1);
        }
        else
        {
            y = centred * (-shape).exp().unsqueeze(1);
            logDet = -shape.sum(1);
        }
        var perComponent = y.square().sum(2) * -0.5 + (logDet + logWeights).unsqueeze(1) - 0.5 * d * Math.Log(2 * Math.PI);
        return perComponent.logsumexp(0);
    }

    /// <summary>
    /// Writes these parameters into <paramref name="mixture"/> in double precision: softmax weights, means, and the
    /// covariances Σ = (P·Pᵀ)⁻¹ = (P⁻¹)ᵀ·P⁻¹ (full, P⁻¹ by triangular solve) or exp(2·log σ) (diagonal).
    /// </summary>
    public void Store(GaussianMixture mixture)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var raw = shape.detach().to_type(ScalarType.Float64);
        Tensor covariances;
        if (Full)
        {
            var p = raw.triu(1) + diag_embed(raw.diagonal(0, 1, 2).exp());
            var identity = eye(raw.shape[1], dtype: ScalarType.Float64, device: raw.device).expand(p.shape);
            var inverse = linalg.solve_triangular(p, identity, upper: true);
            covariances = inverse.transpose(1, 2).bmm(inverse);
        }
        else covariances = (raw * 2).exp();
        var device = mixture.Device;
        mixture.SetParameters(logits.detach().to_type(ScalarType.Float64).softmax(0).to(device).DetachFromDisposeScope(),
            means.detach().to_type(ScalarType.Float64).to(device).DetachFromDisposeScope(), covariances.to(device).DetachFromDisposeScope());
    }

    /// <summary>
    /// Raises every variance below <paramref name="floor"/> to it: log σ clamped (diagonal); for full covariances the
    /// diagonal of Σ is raised where it fell below, which keeps Σ positive definite, and P recomputed from it.
    /// </summary>
    public void HoldVarianceFloor(double floor, GaussianMixture scratch)
    {
        using var _ = no_grad();
        if (!Full)
        {
            shape.clamp_min_(0.5 * Math.Log(floor));
            return;
        }
        Store(scratch);
        int k = scratch.Components, d = scratch.Dimensions;
        var covariances = (double[])scratch.Covariances.Clone();
        var raised = false;
        for (var c = 0; c < k; c++)
            for (var i = 0; i < d; i++)
            {
                ref var variance = ref covariances[c * d * d + i * d + i];
                if (variance < floor) { variance = floor; raised = true; }
            }
        if (!raised) return;
        scratch.SetParameters(scratch.Weights, scratch.Means, covariances);
        using var raw = tensor(RawFactors(scratch), [k, d, d]).to(shape.device);
        shape.copy_(raw);
    }

    static double[] Values(Tensor t)
    {
        using var cpu = t.detach().cpu();
        return cpu.data<float>().ToArray().Select(v => (double)v).ToArray();
    }
}

/// <summary>
/// A mixture fitted by gradient ascent on its likelihood, done stably: maximise the mean log-likelihood by
/// <c>torch.optim</c> steps (Adam, or plain SGD) on the unconstrained <see cref="MixtureParameters"/>, LibTorch's
/// autograd supplying the gradients. Weights are softmax(logits), so they stay positive and sum to one without a
/// penalty; precision factors keep a positive diagonal through exp; the likelihood is a log-sum-exp over components.
/// Starts from the same k-means++ initialisation as EM.
/// </summary>
public static class MixtureGradientFit
{
    /// <summary>Steps over which the change of the log-likelihood is compared with the tolerance (single Adam steps oscillate).</summary>
    public const int ToleranceWindow = 10;

    /// <summary>Fits <paramref name="mixture"/> to <paramref name="data"/> (N, D).</summary>
    /// <exception cref="InvalidOptionException">Steps, learning rate, reg-covar or tolerance out of range.</exception>
    /// <exception cref="InvalidInputException">The data is unusable, or the fit diverged (its step named).</exception>
    public static GmmFitResult Fit(GaussianMixture mixture, NdArray data, GmmGradientOptions? options = null,
        IProgress<GmmProgress>? progress = null, Action<GaussianMixture, int>? snapshot = null, CancellationToken cancellation = default)
    {
        options ??= new GmmGradientOptions();
        if (options.Steps < 1 || !(options.LearningRate > 0)) throw new InvalidOptionException("gradient fit: steps must be ≥ 1 and the learning rate positive");
        if (!(options.RegCovar >= 0) || !(options.Tolerance >= 0)) throw new InvalidOptionException($"gradient fit: reg-covar and the tolerance must be ≥ 0 (got {options.RegCovar}, {options.Tolerance})");
        var device = TorchDevice.Resolve(options.Device);
        // the k-means++ start (one EM iteration's worth of work) gives sensible initial parameters
        var start = mixture.FitEm(data, new GmmEmOptions { MaxIterations = 1, Seed = options.Seed, RegCovar = options.RegCovar });
        using var parameters = new MixtureParameters(mixture, device);
        using var x = tensor(data.Data, [data.Shape[0], mixture.Dimensions]).to(device);
        using var optimizer = options.Sgd
            ? (optim.Optimizer)optim.SGD(parameters.parameters(), options.LearningRate)
            : new FusedAdam(parameters.parameters(), lr: options.LearningRate);
        var history = new List<double>();
        var converged = false;
        var steps = 0;
        for (var step = 1; step <= options.Steps && !converged; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            double value;
            using (NewDisposeScope())
            {
                optimizer.zero_grad();
                var loss = -parameters.LogLikelihood(x).mean();
                value = -loss.item<float>();
                if (!double.IsFinite(value)) throw new InvalidInputException($"gradient fit: the log-likelihood became {value} at step {step}; lower the learning rate");
                loss.backward();
                optimizer.step();
            }
            if (options.RegCovar > 0) parameters.HoldVarianceFloor(options.RegCovar, mixture);
            history.Add(value);
            steps = step;
            progress?.Report(new GmmProgress(step, value));
            if (snapshot is not null) { parameters.Store(mixture); snapshot(mixture, step); }
            converged = options.Tolerance > 0 && history.Count > ToleranceWindow && Math.Abs(value - history[^(ToleranceWindow + 1)]) < options.Tolerance;
        }
        parameters.Store(mixture);
        var final = mixture.Score(data);
        if (!double.IsFinite(final) || mixture.Covariances.Any(v => !double.IsFinite(v)) || mixture.Means.Any(v => !double.IsFinite(v)))
            throw new InvalidInputException($"gradient fit: the fitted mixture is not finite (mean log-likelihood {final}); lower the learning rate or raise --reg-covar");
        return new GmmFitResult(steps, converged, final, history, start.Warnings);
    }
}
