using System.Numerics.Tensors;
using Pipeline.Training.Nn;

namespace Pipeline.Training.Optim;

/// <summary>Gradient-norm clipping, as <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients together so that their joint L2 norm is at most <paramref name="maxNorm"/>
    /// (by maxNorm / (norm + 1e-6) when the norm is larger) and returns the norm before clipping.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new Shared.Errors.InvalidOptionException($"ClipGradNorm: max norm must be positive, got {maxNorm}");
        var withGrad = parameters.Where(p => p.Grad is not null).ToList();
        double sumSquares = 0;
        foreach (var p in withGrad)
        {
            var norm = (double)TensorPrimitives.Norm(p.Grad!.Span);
            sumSquares += norm * norm;
        }
        var total = Math.Sqrt(sumSquares);
        var coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1)
            foreach (var p in withGrad) TensorPrimitives.Multiply(p.Grad!.Span, (float)coefficient, p.Grad.Span);
        return total;
    }
}
