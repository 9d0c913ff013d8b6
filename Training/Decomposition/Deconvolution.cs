using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// The transposed convolution the deconvolution models reconstruct with, as a LibTorch autograd function:
/// V̂ (N, C, *(P + K − 1)) = Σ over kernel offsets k of Wₖᵀ·H (a C × R by R × positions product) added into V̂'s
/// window at k, with Wt (R, C, *K) = W with its first two axes swapped. Its backward is the same products transposed:
/// ∂/∂H = Σₖ Wₖ·G's window at k (<see cref="Correlate"/>), ∂/∂Wₖ = H·(G's window at k)ᵀ.
/// </summary>
/// <remarks>
/// Written this way for speed: on NMFD's shapes (a thousand channels, a few components, kernels of 32 frames)
/// LibTorch's <c>conv_transpose1d</c> step took 16× longer, its im2col running over the large side, and the same
/// products written with in-place adds into views made autograd copy V̂'s gradient once per offset.
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
    /// The forward product, without autograd. LibTorch unfolds the input of a convolution and the output of a transposed
    /// one (channels × kernel rows either way), so the product runs as whichever unfolds the smaller side: with fewer
    /// components than channels (NMFD on a spectrogram: R·K rows instead of C·K), the full convolution of H zero-padded
    /// by K − 1 on every side with Wt's kernel flipped and its axes swapped; otherwise the transposed convolution.
    /// </summary>
    static Tensor Spread(Tensor h, Tensor wt)
    {
        if (wt.shape[1] <= wt.shape[0]) return wt.dim() switch
        {
            3 => nn.functional.conv_transpose1d(h, wt),
            4 => nn.functional.conv_transpose2d(h, wt),
            _ => nn.functional.conv_transpose3d(h, wt),
        };
        using var scope = NewDisposeScope();
        var spatial = (int)wt.dim() - 2;
        var flipped = wt.flip(Enumerable.Range(2, spatial).Select(d => (long)d).ToArray()).transpose(0, 1);
        var padding = wt.shape[2..].Reverse().SelectMany(k => new[] { k - 1, k - 1 }).ToArray();
        return Convolve(nn.functional.pad(h, padding), flipped).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// V (N, C, *S) → (N, R, *(S − K + 1)): the valid correlation with <paramref name="wt"/> (R, C, *K), Σₖ Wₖ·V's window at k.
    /// </summary>
    internal static Tensor Correlate(Tensor v, Tensor wt) => Convolve(v, wt);

    static Tensor Convolve(Tensor x, Tensor weight) => weight.dim() switch
    {
        3 => nn.functional.conv1d(x, weight),
        4 => nn.functional.conv2d(x, weight),
        _ => nn.functional.conv3d(x, weight),
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
