using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Optim;

/// <summary>
/// Stochastic gradient descent as <c>torch.optim.SGD</c>: d = g + λ·p; with momentum μ the buffer
/// b ← μ·b + (1 − dampening)·d (b = d on the first step), and d = b (or d + μ·b with Nesterov); p ← p − lr·d.
/// </summary>
public sealed class Sgd : Optimizer
{
    readonly Tensor[] buffers;
    readonly bool[] started;

    /// <summary>Momentum μ.</summary>
    public double Momentum { get; }
    /// <summary>Dampening of the momentum buffer.</summary>
    public double Dampening { get; }
    /// <summary>L2 penalty λ added to the gradient.</summary>
    public double WeightDecay { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>Creates the optimiser.</summary>
    public Sgd(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false) : base(parameters, learningRate)
    {
        Momentum = Require(momentum, momentum >= 0, "SGD momentum");
        Dampening = Require(dampening, dampening >= 0, "SGD dampening");
        WeightDecay = Require(weightDecay, weightDecay >= 0, "SGD weight decay");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new Shared.Errors.InvalidOptionException("SGD: Nesterov momentum needs a positive momentum and zero dampening");
        Nesterov = nesterov;
        buffers = Parameters.Select(p => Tensor.Zeros([.. p.Shape])).ToArray();
        started = new bool[Parameters.Count];
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> p, ReadOnlySpan<float> g)
    {
        float lr = (float)LearningRate, wd = (float)WeightDecay, mu = (float)Momentum, damp = (float)Dampening;
        var b = buffers[index].Span;
        var first = !started[index];
        started[index] = true;
        for (var i = 0; i < p.Length; i++)
        {
            var d = wd != 0 ? g[i] + wd * p[i] : g[i];
            if (mu != 0)
            {
                b[i] = first ? d : mu * b[i] + (1 - damp) * d;
                d = Nesterov ? d + mu * b[i] : b[i];
            }
            p[i] -= lr * d;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Tensor Value)> State(int index)
    {
        if (Momentum != 0) yield return ("momentum_buffer", buffers[index]);
    }

    /// <summary>Marks momentum buffers as started after loading them from a checkpoint.</summary>
    internal void MarkStarted()
    {
        if (StepCount > 0) Array.Fill(started, true);
    }
}
