using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// The transposed convolution the deconvolution models reconstruct with, as a LibTorch autograd function:
/// V̂ (N, C, *(P + K − 1)) = Σ over kernel offsets k of Wₖᵀ·H added into V̂'s window at k, with Wt (R, C, *K) = W with
/// its first two axes swapped. Every direction runs as one of LibTorch's (non-transposed) convolutions: the forward
/// as the full convolution with the flipped kernel, ∂/∂H as the valid correlation of the gradient G with Wt
/// (<see cref="Correlate"/>), ∂/∂Wt as a correlation of G with H or, with more channels than components, one product
/// per kernel offset.
/// </summary>
/// <remarks>
/// Written this way for speed: LibTorch's transposed convolution (and so the backward of its convolution) unfolds
/// the C·K-row side; on NMFD's shapes (a thousand channels, a few components, kernels of 32 frames) its
/// <c>conv_transpose1d</c> step took 16× longer.
/// </remarks>
sealed class Deconvolution : SingleTensorFunction<Deconvolution>
{
    /// <inheritdoc/>
    public override string Name => "Deconvolution";

    /// <inheritdoc/>
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (h, wt) = ((Tensor)vars[0], (Tensor)vars[1]);
        ctx.save_for_backward([h, wt]);
        ctx.save_data("h", h.requires_grad);
        ctx.save_data("wt", wt.requires_grad);
        return Spread(h, wt);
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradient)
    {
        var saved = ctx.get_saved_variables();
        var (h, wt) = (saved[0], saved[1]);
        var gradH = (bool)ctx.get_data("h") ? Correlate(gradient, wt) : null;
        var gradWt = (bool)ctx.get_data("wt") ? TemplateGradient(gradient, h, wt.shape) : null;
        return [gradH!, gradWt!];
    }

    /// <summary>
    /// The forward product, without autograd: the full convolution of H (zero-padded by K − 1 on every side) with Wt's
    /// kernel flipped and its first two axes swapped. LibTorch's transposed convolution unfolds its C·K-row output
    /// and was 16× slower on NMFD's shapes, 1.5× on NMF2D's.
    /// </summary>
    static Tensor Spread(Tensor h, Tensor wt)
    {
        using var scope = NewDisposeScope();
        var spatial = (int)wt.dim() - 2;
        var flipped = wt.flip(Enumerable.Range(2, spatial).Select(d => (long)d).ToArray()).transpose(0, 1);
        var padding = wt.shape[2..].Select(k => k - 1).ToArray();
        return Convolve(h, flipped, padding).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// V (N, C, *S) → (N, R, *(S − K + 1)): the valid correlation with <paramref name="wt"/> (R, C, *K), Σₖ Wₖ·V's window at k.
    /// </summary>
    internal static Tensor Correlate(Tensor v, Tensor wt) => Convolve(v, wt);

    /// <summary>LibTorch's convolution of <paramref name="x"/> with <paramref name="weight"/> for its number of spatial axes, zero-padded by <paramref name="padding"/>.</summary>
    static Tensor Convolve(Tensor x, Tensor weight, long[]? padding = null) => weight.dim() switch
    {
        3 => nn.functional.conv1d(x, weight, padding: padding?[0]),
        4 => nn.functional.conv2d(x, weight, padding: padding),
        _ => nn.functional.conv3d(x, weight, padding: padding),
    };

    /// <summary>
    /// ∂/∂Wt (R, C, *K) for the gradient <paramref name="g"/> of V̂: Σₙ Σₚ H[n, r, p]·G[n, c, p + k]. With more channels
    /// than components, one (R × positions)·(positions × C) product per kernel offset (G's window is a strided matrix,
    /// read in place); otherwise a valid correlation of G with H in which C plays the batch and N the channels.
    /// </summary>
    static Tensor TemplateGradient(Tensor g, Tensor h, long[] shape)
    {
        using var scope = NewDisposeScope();
        if (shape[1] <= shape[0])
            return Convolve(g.transpose(0, 1), h.transpose(0, 1)).transpose(0, 1).contiguous().MoveToOuterDisposeScope();
        var kernel = shape[2..];
        var positions = h.shape[2..];
        long n = h.shape[0], r = h.shape[1], c = shape[1];
        var flat = h.reshape(n, r, -1);
        // (*K, R, C) while filling, so each offset's block is contiguous
        var result = empty([.. kernel, r, c], g.dtype, g.device);
        var blocks = result.reshape(-1, r, c);
        var count = kernel.Aggregate(1L, (p, k) => p * k);
        for (var i = 0L; i < count; i++)
        {
            var window = g;
            for (long d = kernel.Length - 1, rest = i; d >= 0; rest /= kernel[d], d--)
                window = window.narrow(2 + d, rest % kernel[d], positions[d]);
            blocks[i].copy_(flat.matmul(window.reshape(n, c, -1).transpose(1, 2)).sum([0L]));
        }
        var order = new long[shape.Length];
        (order[0], order[1]) = (kernel.Length, kernel.Length + 1);
        for (var d = 0; d < kernel.Length; d++) order[2 + d] = d;
        return result.permute(order).contiguous().MoveToOuterDisposeScope();
    }
}
