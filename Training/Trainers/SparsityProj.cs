using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Training.Decomposition;
using static TorchSharp.torch;

namespace Pipeline.Training.Trainers;

/// <summary>
/// torchnmf's SparsityProj trainer as a <c>torch.optim</c> optimizer: projected gradient descent with Hoyer's
/// sparseness constraint (Hoyer 2004, "Non-negative matrix factorization with sparseness constraints"). Each step
/// moves every parameter down its gradient, then projects every vector along <c>dim</c> onto the non-negative vectors
/// of the same L2 norm and the target sparseness; a step that does not lower the loss is halved (up to
/// <c>maxIter</c> evaluations) and a successful one grows by 1.2 next time. The step sizes are the optimizer's state.
/// </summary>
public sealed class SparsityProj : OptimizerHelper
{
    /// <summary>SparsityProj's settings (torchnmf's names).</summary>
    public sealed class Options : OptimizerOptions
    {
        public double? sparsity;
        public long? dim, max_iter;

        /// <inheritdoc/>
        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            writer.Write(sparsity!.Value);
            writer.Write(dim!.Value);
            writer.Write(max_iter!.Value);
        }

        /// <inheritdoc/>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            (sparsity, dim, max_iter) = (reader.ReadDouble(), reader.ReadInt64(), reader.ReadInt64());
        }

        /// <inheritdoc/>
        public override void LoadStateDict(OptimizerOptions source)
        {
            base.LoadStateDict(source);
            var other = (Options)source;
            (sparsity, dim, max_iter) = (other.sparsity, other.dim, other.max_iter);
        }
    }

    /// <summary>A parameter's current step size.</summary>
    sealed class State(Parameter parameter, double step) : OptimizerState(parameter)
    {
        public double Step = step;
        public override void SaveStateDict(BinaryWriter writer) => writer.Write(Step);
        public override void LoadStateDict(BinaryReader reader) => Step = reader.ReadDouble();
        public override void LoadStateDict(OptimizerState source) => Step = ((State)source).Step;
        public override void Initialize(OptimizerOptions options) { }
    }

    readonly bool perComponent;

    /// <summary>Target sparseness, in (0, 1).</summary>
    public double Sparsity => ((Options)_defaults).sparsity!.Value;

    /// <summary>Creates the optimizer and projects every parameter onto the constraint set; <paramref name="dim"/> is the axis the constrained vectors run along.</summary>
    /// <param name="perComponent">Instead of vectors along <paramref name="dim"/>, constrain each component's whole slice
    /// (the entries sharing an index on axis 1: a deconvolution template over its channels and kernel offsets).</param>
    /// <exception cref="InvalidOptionException">The sparseness is outside (0, 1), or <paramref name="maxIter"/> or the step is not positive.</exception>
    public SparsityProj(IEnumerable<Parameter> parameters, double sparsity, int dim = 1, int maxIter = 10, double initialStep = 1.0, bool perComponent = false)
    {
        if (!(sparsity > 0 && sparsity < 1)) throw new InvalidOptionException($"the target sparseness must lie in (0, 1), got {sparsity}");
        if (maxIter < 1 || !(initialStep > 0)) throw new InvalidOptionException("SparsityProj: max_iter must be ≥ 1 and the initial step positive");
        this.perComponent = perComponent;
        _defaults = new Options { LearningRate = initialStep, InitialLearningRate = initialStep, sparsity = sparsity, dim = dim, max_iter = maxIter };
        _parameter_groups = [];
        var group = new ParamGroup<Options>(parameters.Where(p => p.requires_grad).ToArray(), (Options)_defaults);
        add_param_group(group);
        foreach (var p in group.Parameters)
        {
            _state[p.Handle] = new State(p, initialStep);
            using var _ = no_grad();
            Project(p, sparsity, dim); // start on the constraint set
        }
    }

    /// <summary>
    /// One projected-gradient step per parameter; <paramref name="closure"/> evaluates the scalar loss (it is called
    /// with gradients on, then without for each trial step). Returns the last accepted loss.
    /// </summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (closure is null) throw new InvalidOperationException("SparsityProj.step needs a closure returning the loss");
        var options = (Options)_defaults;
        var current = 0.0;
        foreach (var p in _parameter_groups.SelectMany(g => g.Parameters))
        {
            var state = (State)_state[p.Handle];
            using var scope = NewDisposeScope();
            foreach (var other in _parameter_groups.SelectMany(g => g.Parameters)) other.grad = null;
            Tensor value;
            using (enable_grad()) value = closure();
            current = value.to_type(ScalarType.Float64).item<double>();
            var gradient = autograd.grad([value], [p])[0];
            using var _ = no_grad();
            var start = p.detach().clone();
            var accepted = false;
            for (var attempt = 0; attempt < options.max_iter!.Value && !accepted; attempt++)
            {
                p.copy_(start - state.Step * gradient);
                Project(p, options.sparsity!.Value, (int)options.dim!.Value);
                var trial = closure().to_type(ScalarType.Float64).item<double>();
                if (trial < current) { accepted = true; current = trial; state.Step *= 1.2; }
                else state.Step /= 2;
            }
            if (!accepted) p.copy_(start);
        }
        return tensor(current, ScalarType.Float64);
    }

    /// <summary>Projects <paramref name="p"/> in place (on the CPU, in double precision: the projection is sequential per vector).</summary>
    void Project(Tensor p, double sparsity, int dim)
    {
        if (perComponent && p.dim() < 2) throw new InvalidOptionException($"per-component sparseness needs a factor with a component axis, got shape ({string.Join(", ", p.shape)})");
        // move the constrained axis last (per component: axis 1, with everything else flattened behind it)
        var axis = perComponent ? 1 : (int)(dim < 0 ? dim + p.dim() : dim);
        var moved = p.detach().movedim([axis], [-1]);
        var rows = perComponent ? moved.reshape(-1, p.shape[1]).t() : moved.reshape(-1, p.shape[axis]);
        var values = rows.cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        var (count, length) = ((int)rows.shape[0], (int)rows.shape[1]);
        if (length < 2) throw new InvalidInputException("sparseness needs vectors of at least two entries");
        var vector = new double[length];
        for (var r = 0; r < count; r++)
        {
            Array.Copy(values, r * length, vector, 0, length);
            var l2 = Math.Sqrt(vector.Sum(x => x * x));
            if (l2 == 0) continue;
            Array.Copy(HoyerProjection(vector, sparsity, l2), 0, values, r * length, length);
        }
        var projected = tensor(values, [count, length]).to_type(p.dtype).to(p.device);
        var back = perComponent ? projected.t().reshape(moved.shape) : projected.reshape(moved.shape);
        p.detach().copy_(back.movedim([-1], [axis]));
    }

    /// <summary>
    /// The non-negative vector closest to <paramref name="x"/> with L2 norm <paramref name="l2"/> and Hoyer sparseness
    /// <paramref name="sparseness"/> (its L1 norm follows: l1 = l2·(√n − s·(√n − 1))), by Hoyer's alternating projection.
    /// </summary>
    public static double[] HoyerProjection(IReadOnlyList<double> x, double sparseness, double l2)
    {
        var n = x.Count;
        if (n < 2) throw new InvalidInputException("sparseness needs vectors of at least two entries");
        var sqrtN = Math.Sqrt(n);
        var l1 = l2 * (sqrtN - sparseness * (sqrtN - 1));
        var s = new double[n];
        var shift = (l1 - x.Sum()) / n;
        for (var i = 0; i < n; i++) s[i] = x[i] + shift;
        var zeroed = new bool[n];
        for (var round = 0; round <= n; round++)
        {
            var free = zeroed.Count(z => !z);
            var midpoint = new double[n];
            for (var i = 0; i < n; i++) midpoint[i] = zeroed[i] ? 0 : l1 / free;
            // s ← m + α(s − m) with ‖·‖₂ = l2: the positive root of a quadratic in α
            double a = 0, b = 0, c = 0;
            for (var i = 0; i < n; i++)
            {
                var d = s[i] - midpoint[i];
                a += d * d;
                b += 2 * midpoint[i] * d;
                c += midpoint[i] * midpoint[i];
            }
            c -= l2 * l2;
            var alpha = a == 0 ? 0 : (-b + Math.Sqrt(Math.Max(b * b - 4 * a * c, 0))) / (2 * a);
            for (var i = 0; i < n; i++) s[i] = midpoint[i] + alpha * (s[i] - midpoint[i]);
            if (s.All(v => v >= 0)) return s;
            for (var i = 0; i < n; i++)
                if (s[i] < 0) { zeroed[i] = true; s[i] = 0; }
            free = zeroed.Count(z => !z);
            var excess = (s.Sum() - l1) / free;
            for (var i = 0; i < n; i++)
                if (!zeroed[i]) s[i] -= excess;
        }
        for (var i = 0; i < n; i++) s[i] = Math.Max(s[i], 0);
        return s;
    }
}
