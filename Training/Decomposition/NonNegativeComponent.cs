using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// torchnmf's BaseComponent as a <c>torch.nn.Module</c>: a non-negative template tensor W and activation tensor H
/// (parameters "W" and "H", as in torchnmf's state dict) whose forward pass is a reconstruction built only from
/// products and sums of them, so every gradient part is non-negative and <see cref="BetaMu"/> applies. A model
/// says how it reconstructs (<see cref="Reconstruct"/>); fitting is <see cref="Fit"/> and <see cref="SparseFit"/>.
/// </summary>
public abstract class NonNegativeComponent : nn.Module
{
    /// <summary>Templates.</summary>
    public Parameter W { get; }
    /// <summary>Activations.</summary>
    public Parameter H { get; }

    /// <summary>
    /// Initialises W and H: uniform in [0, 1) from <paramref name="generator"/> (LibTorch's default generator when
    /// null), or the given tensors (copied); on <paramref name="device"/> (the CPU when null).
    /// </summary>
    /// <exception cref="InvalidInputException">A given factor has another shape, or negative or non-finite values.</exception>
    protected NonNegativeComponent(string name, long[] wShape, long[] hShape, Generator? generator, Tensor? w, Tensor? h,
        bool trainableW, bool trainableH, Device? device) : base(name)
    {
        W = nn.Parameter(Initial(w, wShape, generator, "W"), trainableW);
        H = nn.Parameter(Initial(h, hShape, generator, "H"), trainableH);
        register_parameter("W", W);
        register_parameter("H", H);
        if (device is not null) this.to(device);
    }

    static Tensor Initial(Tensor? given, long[] shape, Generator? generator, string name)
    {
        if (given is null) return rand(shape, generator: generator);
        if (!given.shape.SequenceEqual(shape))
            throw new InvalidInputException($"{name} of shape {ShapeText(given.shape)}; this model needs {ShapeText(shape)}");
        BetaMu.CheckTarget(given, beta: 1, name);
        return given.detach().to_type(ScalarType.Float32).cpu().clone();
    }

    /// <summary>"(2, 3, 4)": a shape as error messages write it.</summary>
    internal static string ShapeText(IEnumerable<long> shape) => $"({string.Join(", ", shape)})";

    /// <summary>The model's reconstruction from <paramref name="h"/> and <paramref name="w"/>.</summary>
    public abstract Tensor Reconstruct(Tensor h, Tensor w);

    /// <summary>The reconstruction from the module's own W and H, as torchnmf's <c>model()</c>.</summary>
    public Tensor forward() => Reconstruct(H, W);

    /// <summary>
    /// torchnmf's <c>fit</c>: β multiplicative updates (<see cref="BetaMu"/>) of the trainable factors until the
    /// divergence falls by less than <paramref name="tolerance"/> of its first value between checks (every 10
    /// iterations), with the elastic-net penalty α·(l1Ratio·L1 + (1 − l1Ratio)·L2); <paramref name="normalize"/>
    /// rescales every component of W or H to unit L2 norm after each iteration. Returns the number of iterations run.
    /// </summary>
    /// <exception cref="InvalidInputException">V is not the model's shape, or is negative, non-finite, or has zeros with β ≤ 0.</exception>
    /// <exception cref="InvalidOptionException">An option is out of range.</exception>
    public int Fit(Tensor v, double beta = 1, double tolerance = 1e-4, int maxIterations = 200, double alpha = 0, double l1Ratio = 0,
        IProgress<(int Iteration, double Loss)>? progress = null, FactorNormalization normalize = FactorNormalization.None,
        CancellationToken cancellation = default)
    {
        if (maxIterations < 1 || !(tolerance >= 0) || !(alpha >= 0) || l1Ratio is not (>= 0 and <= 1))
            throw new InvalidOptionException("fit: max_iter ≥ 1, tol ≥ 0, alpha ≥ 0 and l1_ratio in [0, 1] are required");
        BetaMu.CheckTarget(v, beta);
        using var trainer = new BetaMu(parameters(), beta, alpha * l1Ratio, alpha * (1 - l1Ratio));
        double first = double.NaN, previous = double.NaN;
        for (var i = 1; i <= maxIterations; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            double loss;
            using (var value = trainer.step(() => (forward(), v))) loss = value.item<double>();
            NormalizeComponents(normalize);
            progress?.Report((i, loss));
            if (i == 1) first = previous = loss;
            else if (i % 10 == 0)
            {
                if (tolerance > 0 && (previous - loss) / first < tolerance) return i;
                previous = loss;
            }
        }
        return maxIterations;
    }

    /// <summary>
    /// Rescales each component r (axis 1 of both W and H) of the chosen factor to unit L2 norm and the same component
    /// of the other factor by that norm: the reconstruction is bilinear in (W_r, H_r), so it does not change. A dead
    /// component (norm 0) stays as it is.
    /// </summary>
    public void NormalizeComponents(FactorNormalization which)
    {
        if (which == FactorNormalization.None) return;
        var (unit, other) = which == FactorNormalization.W ? (W, H) : (H, W);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var axes = Enumerable.Range(0, (int)unit.dim()).Where(a => a != 1).Select(a => (long)a).ToArray();
        var norms = unit.square().sum(axes, keepdim: true).sqrt();
        var scale = where(norms > 0, norms, ones_like(norms));
        unit.div_(scale);
        var shape = Enumerable.Repeat(1L, (int)other.dim()).ToArray();
        shape[1] = scale.numel();
        other.mul_(scale.reshape(shape));
    }

    /// <summary>
    /// torchnmf's <c>sparse_fit</c>: W and/or H held at Hoyer sparseness <paramref name="sW"/> / <paramref name="sH"/>
    /// (per component) by projected gradient on the β-divergence (<see cref="SparsityProj"/>), the unconstrained factor
    /// following multiplicative updates; <paramref name="progress"/> sees the divergence after every iteration.
    /// Returns the number of iterations run.
    /// </summary>
    /// <exception cref="InvalidOptionException">A sparseness is outside (0, 1), or <paramref name="maxIterations"/> &lt; 1.</exception>
    public int SparseFit(Tensor v, double beta = 2, int maxIterations = 200, double? sW = null, double? sH = null,
        IProgress<(int Iteration, double Loss)>? progress = null, CancellationToken cancellation = default)
    {
        if (maxIterations < 1) throw new InvalidOptionException($"sparse_fit: max_iter must be ≥ 1, got {maxIterations}");
        BetaMu.CheckTarget(v, beta);
        var constrained = new List<(Parameter P, double Sparsity)>();
        if (sW is { } w && W.requires_grad) constrained.Add((W, w));
        if (sH is { } h && H.requires_grad) constrained.Add((H, h));
        // sparseness per component: all of a template W[:, r, …] or an activation H[:, r, …] is one vector
        var projections = constrained.Select(c => new SparsityProj([c.P], c.Sparsity, perComponent: true)).ToList();
        var free = parameters().Where(p => p.requires_grad && constrained.All(c => !ReferenceEquals(c.P, p))).ToList();
        using var mu = free.Count > 0 ? new BetaMu(free, beta) : null;
        try
        {
            for (var i = 0; i < maxIterations; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                foreach (var projection in projections)
                    projection.step(() => BetaDivergence.Loss(v, forward(), beta)).Dispose();
                if (mu is not null)
                {
                    // the projections own the constrained factors: constants for BetaMu's steps
                    foreach (var (p, _) in constrained) p.requires_grad = false;
                    try { mu.step(() => (forward(), v)).Dispose(); }
                    finally { foreach (var (p, _) in constrained) p.requires_grad = true; }
                }
                if (progress is not null)
                    using (no_grad())
                    using (var loss = BetaDivergence.Loss(v, forward(), beta))
                        progress.Report((i + 1, loss.item<double>()));
            }
        }
        finally
        {
            foreach (var projection in projections) projection.Dispose();
        }
        return maxIterations;
    }
}
