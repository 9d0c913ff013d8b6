using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Optim;

/// <summary>
/// Base of the optimisers, as <c>torch.optim.Optimizer</c> with one parameter group: <see cref="Step"/>
/// updates every parameter from its gradient (parameters without a gradient are skipped), and the state
/// tensors (moments, momentum buffers) are exposed by name for checkpoints.
/// </summary>
public abstract class Optimizer
{
    /// <summary>The parameters this optimiser updates, in order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Current learning rate (schedules change it between epochs).</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; protected internal set; }

    /// <summary>Checks the parameters and learning rate.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        Parameters = parameters.ToList();
        if (Parameters.Count == 0) throw new InvalidOptionException($"{GetType().Name}: no parameters to optimise");
        if (Parameters.Distinct().Count() != Parameters.Count) throw new InvalidOptionException($"{GetType().Name}: a parameter is listed twice");
        if (!(learningRate >= 0) || double.IsInfinity(learningRate)) throw new InvalidOptionException($"{GetType().Name}: learning rate must be a finite number ≥ 0, got {learningRate}");
        LearningRate = learningRate;
    }

    /// <summary>Updates every parameter that has a gradient.</summary>
    public void Step()
    {
        StepCount++;
        for (var i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            if (p.Grad is null) continue;
            Update(i, p.Span, p.Grad.Span);
        }
    }

    /// <summary>Updates parameter <paramref name="index"/> in place from its gradient.</summary>
    protected abstract void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.Grad = null;
    }

    /// <summary>State tensors of parameter <paramref name="index"/> by name (for example "exp_avg"), as saved in checkpoints.</summary>
    public abstract IEnumerable<(string Name, Tensor Value)> State(int index);

    /// <summary>Checks a hyper-parameter range.</summary>
    protected static double Require(double value, bool ok, string what) =>
        ok && !double.IsNaN(value) ? value : throw new InvalidOptionException($"{what} is out of range: {value}");
}
