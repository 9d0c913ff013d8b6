using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// torchnmf's SparsityProj trainer: projected gradient descent with Hoyer's sparseness constraint (Hoyer 2004,
/// "Non-negative matrix factorization with sparseness constraints"). Each step moves every parameter down its
/// gradient, then projects every vector along <c>dim</c> onto the non-negative vectors of the same L2 norm and the
/// target sparseness; a step that does not lower the loss is halved (up to <c>maxIter</c> evaluations) and a
/// successful one grows by 1.2 next time.
/// </summary>
public sealed class SparsityProj
{
    readonly Parameter[] parameters;
    readonly double[] steps;
    readonly int dim, maxIter;
    readonly bool perComponent;

    /// <summary>Target sparseness, in (0, 1).</summary>
    public double Sparsity { get; }

    /// <summary>Creates the trainer; <paramref name="dim"/> is the axis the constrained vectors run along.</summary>
    /// <param name="perComponent">Instead of vectors along <paramref name="dim"/>, constrain each component's whole slice
    /// (the entries sharing an index on axis 1: a deconvolution template over its channels and kernel offsets).</param>
    public SparsityProj(IEnumerable<Parameter> parameters, double sparsity, int dim = 1, int maxIter = 10, double initialStep = 1.0, bool perComponent = false)
    {
        this.perComponent = perComponent;
        if (!(sparsity > 0 && sparsity < 1)) throw new InvalidOptionException($"the target sparseness must lie in (0, 1), got {sparsity}");
        if (maxIter < 1 || !(initialStep > 0)) throw new InvalidOptionException("SparsityProj: max_iter must be ≥ 1 and the initial step positive");
        this.parameters = parameters.Where(p => p.RequiresGrad).ToArray();
        steps = Enumerable.Repeat(initialStep, this.parameters.Length).ToArray();
        (Sparsity, this.dim, this.maxIter) = (sparsity, dim, maxIter);
        foreach (var p in this.parameters) Project(p); // start on the constraint set
    }

    /// <summary>One projected-gradient step per parameter; <paramref name="loss"/> evaluates the scalar loss. Returns the last loss.</summary>
    public double Step(Func<Tensor> loss)
    {
        var current = 0.0;
        for (var k = 0; k < parameters.Length; k++)
        {
            var p = parameters[k];
            foreach (var other in parameters) other.Grad = null;
            var value = loss();
            current = value.Item();
            value.Backward();
            var start = p.ToArray();
            var gradient = p.Grad!.ToArray();
            var accepted = false;
            for (var attempt = 0; attempt < maxIter && !accepted; attempt++)
            {
                var span = p.Span;
                for (var i = 0; i < span.Length; i++) span[i] = (float)(start[i] - steps[k] * gradient[i]);
                Project(p);
                double trial;
                using (Tensor.NoGrad()) trial = loss().Item();
                if (trial < current) { accepted = true; current = trial; steps[k] *= 1.2; }
                else steps[k] /= 2;
            }
            if (!accepted) start.CopyTo(p.Span);
            p.Grad = null;
        }
        return current;
    }

    void Project(Tensor p)
    {
        if (perComponent)
        {
            ProjectComponents(p);
            return;
        }
        var axis = Tensor.NormalizeAxis(dim, p.Rank);
        var dims = p.Shape;
        int n = dims[axis], inner = 1, outer = 1;
        for (var d = axis + 1; d < dims.Count; d++) inner *= dims[d];
        for (var d = 0; d < axis; d++) outer *= dims[d];
        var values = p.Span;
        var vector = new double[n];
        for (var o = 0; o < outer; o++)
            for (var i = 0; i < inner; i++)
            {
                for (var j = 0; j < n; j++) vector[j] = values[(o * n + j) * inner + i];
                var l2 = Math.Sqrt(vector.Sum(x => x * x));
                if (l2 == 0) continue;
                var projected = HoyerProjection(vector, Sparsity, l2);
                for (var j = 0; j < n; j++) values[(o * n + j) * inner + i] = (float)projected[j];
            }
    }

    /// <summary>Each component's entries (everything sharing one index on axis 1 of (outer, R, inner)) as one vector.</summary>
    void ProjectComponents(Tensor p)
    {
        if (p.Rank < 2) throw new InvalidOptionException($"per-component sparseness needs a factor with a component axis, got shape {Tensor.ShapeText(p.Shape)}");
        int outer = p.Size(0), components = p.Size(1), inner = p.Count / (outer * components);
        var values = p.Span;
        var vector = new double[outer * inner];
        for (var r = 0; r < components; r++)
        {
            for (var o = 0; o < outer; o++)
                for (var i = 0; i < inner; i++) vector[o * inner + i] = values[(o * components + r) * inner + i];
            var l2 = Math.Sqrt(vector.Sum(x => x * x));
            if (l2 == 0) continue;
            var projected = HoyerProjection(vector, Sparsity, l2);
            for (var o = 0; o < outer; o++)
                for (var i = 0; i < inner; i++) values[(o * components + r) * inner + i] = (float)projected[o * inner + i];
        }
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
