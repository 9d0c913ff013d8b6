using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

/// <summary>
/// How one recorded operation passes its output gradient back: <see cref="Backward"/> maps the gradient of
/// the output to one gradient per input (null where that input needs none).
/// </summary>
internal sealed class GradNode(string operation, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
{
    public string Operation { get; } = operation;
    public Tensor[] Inputs { get; } = inputs;
    public Func<Tensor, Tensor?[]> Backward { get; } = backward;
}

/// <summary>Gradient recording and the reverse sweep.</summary>
internal static class Autograd
{
    [ThreadStatic] static int disabledDepth;

    public static bool Enabled => disabledDepth == 0;

    public static void Disable() => disabledDepth++;

    public static void Enable() => disabledDepth--;

    /// <summary>Attaches a backward rule to <paramref name="result"/> when any input requires gradients.</summary>
    public static Tensor Record(Tensor result, string operation, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (disabledDepth != 0) return result;
        var any = false;
        foreach (var input in inputs) any |= input.RequiresGrad;
        if (!any) return result;
        result.Node = new GradNode(operation, inputs, backward);
        result.RequiresGrad = true;
        return result;
    }

    /// <summary>
    /// Propagates <paramref name="seed"/> (the gradient of some scalar with respect to <paramref name="root"/>)
    /// to every leaf that requires gradients, adding into their <see cref="Tensor.Grad"/>.
    /// </summary>
    public static void Backward(Tensor root, Tensor seed)
    {
        var order = TopologicalOrder(root);
        var pending = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = seed };
        Disable();
        try
        {
            for (var i = order.Count - 1; i >= 0; i--)
            {
                var tensor = order[i];
                if (!pending.Remove(tensor, out var grad)) continue;
                if (tensor.Node is null)
                {
                    AccumulateLeaf(tensor, grad);
                    continue;
                }
                var inputs = tensor.Node.Inputs;
                var grads = tensor.Node.Backward(grad);
                for (var k = 0; k < inputs.Length; k++)
                {
                    var g = grads[k];
                    var input = inputs[k];
                    if (g is null || !input.RequiresGrad) continue;
                    if (!g.Dims.AsSpan().SequenceEqual(input.Dims))
                        throw new InvalidOperationException(
                            $"{tensor.Node.Operation} returned a gradient of shape {Tensor.ShapeText(g.Dims)} for an input of shape {Tensor.ShapeText(input.Dims)}");
                    // Never add in place here: a backward rule may hand the same tensor to several inputs.
                    pending[input] = pending.TryGetValue(input, out var existing) ? existing.AddNoGrad(g) : g;
                }
            }
        }
        finally
        {
            Enable();
        }
    }

    static void AccumulateLeaf(Tensor leaf, Tensor grad)
    {
        // A leaf owns its gradient buffer, so optimisers and clipping may change it in place.
        if (leaf.Grad is null) leaf.Grad = new Tensor(grad.Span.ToArray(), 0, leaf.Dims);
        else System.Numerics.Tensors.TensorPrimitives.Add(leaf.Grad.Span, grad.Span, leaf.Grad.Span);
    }

    static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int Next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor.Node?.Inputs ?? [];
            if (next < inputs.Length)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.RequiresGrad && visited.Add(input)) stack.Push((input, 0));
            }
            else order.Add(tensor);
        }
        return order; // inputs before the tensors computed from them
    }
}

/// <summary>Disables gradient recording on this thread until disposed (<c>using (Tensor.NoGrad()) { ... }</c>).</summary>
public readonly struct NoGradScope : IDisposable
{
    internal NoGradScope(bool _) => Autograd.Disable();

    /// <summary>Re-enables recording.</summary>
    public void Dispose() => Autograd.Enable();
}

public partial class Tensor
{
    /// <summary>Stops recording gradients on this thread until the returned scope is disposed.</summary>
    public static NoGradScope NoGrad() => new(true);

    /// <summary>Whether operations on this thread currently record gradients.</summary>
    public static bool IsGradEnabled => Autograd.Enabled;

    /// <summary>Back-propagates from a one-element tensor (a loss): adds dloss/dx into every leaf's <see cref="Grad"/>.</summary>
    public void Backward()
    {
        if (Count != 1)
            throw new InvalidInputException($"Backward() needs a one-element tensor, not shape {ShapeText(Dims)}; pass the output gradient");
        Backward(Ones(Dims));
    }

    /// <summary>
    /// Vector-Jacobian product: adds Σᵢ outputGradientᵢ·∂thisᵢ/∂x into every leaf x's <see cref="Grad"/>.
    /// </summary>
    public void Backward(Tensor outputGradient)
    {
        if (!RequiresGrad)
            throw new InvalidOperationException("Backward on a tensor that does not require gradients: no input had RequiresGrad, or it was computed under NoGrad");
        RequireSameShape(outputGradient, "Backward (output gradient)");
        Autograd.Backward(this, outputGradient.Detach());
    }
}
