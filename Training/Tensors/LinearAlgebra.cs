using Pipeline.Shared.Errors;
using Pipeline.Training.Linalg;

namespace Pipeline.Training.Tensors;

public partial class Tensor
{
    /// <summary>
    /// Matrix product through BLAS. A: (m, k) or (B…, m, k); B: (k, n) or (B…, k, n) with the same batch
    /// dimensions; result (B…, m, n). Transposes in the backward pass are BLAS flags, never copies.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        var (a, b) = (this, other);
        if (a.Rank < 2 || b.Rank < 2 || a.Dims[^1] != b.Dims[^2])
            throw new InvalidInputException($"MatMul: shapes {ShapeText(a.Dims)} and {ShapeText(b.Dims)} do not multiply (need (…, m, k) and (…, k, n))");
        int m = a.Dims[^2], k = a.Dims[^1], n = b.Dims[^1];
        var batchA = a.Count / Math.Max(m * k, 1);
        var batchB = b.Count / Math.Max(k * n, 1);
        int[] dims;
        if (b.Rank == 2) { dims = (int[])a.Dims.Clone(); dims[^1] = n; }
        else if (a.Rank == 2) { dims = (int[])b.Dims.Clone(); dims[^2] = m; }
        else
        {
            if (!a.Dims.AsSpan(0, a.Rank - 2).SequenceEqual(b.Dims.AsSpan(0, b.Rank - 2)))
                throw new InvalidInputException($"MatMul: batch dimensions of {ShapeText(a.Dims)} and {ShapeText(b.Dims)} differ");
            dims = (int[])a.Dims.Clone();
            dims[^1] = n;
        }
        var result = Empty(dims);
        var batches = Math.Max(batchA, batchB);
        if (b.Rank == 2) // every batch of A against one B: a single tall GEMM
            Blas.Gemm(false, false, batchA * m, n, k, 1f, a.Span, k, b.Span, n, 0f, result.Span, n);
        else
            for (var i = 0; i < batches; i++)
                Blas.Gemm(false, false, m, n, k, 1f, BatchOf(a, i, batchA, m * k), k, BatchOf(b, i, batchB, k * n), n, 0f,
                    result.Span.Slice(i * m * n, m * n), n);
        return Autograd.Record(result, "MatMul", [a, b], g =>
        {
            Tensor? ga = null, gb = null;
            if (a.RequiresGrad)
            {
                ga = Zeros(a.Dims);
                if (b.Rank == 2) Blas.Gemm(false, true, batchA * m, k, n, 1f, g.Span, n, b.Span, n, 0f, ga.Span, k);
                else
                    for (var i = 0; i < batches; i++) // a shared A collects every batch's gradient (β = 1)
                        Blas.Gemm(false, true, m, k, n, 1f, g.Span.Slice(i * m * n, m * n), n, BatchOf(b, i, batchB, k * n), n,
                            1f, ga.Span.Slice(batchA == 1 ? 0 : i * m * k, m * k), k);
            }
            if (b.RequiresGrad)
            {
                gb = Zeros(b.Dims);
                if (b.Rank == 2) Blas.Gemm(true, false, k, n, batchA * m, 1f, a.Span, k, g.Span, n, 0f, gb.Span, n);
                else
                    for (var i = 0; i < batches; i++)
                        Blas.Gemm(true, false, k, n, m, 1f, BatchOf(a, i, batchA, m * k), k, g.Span.Slice(i * m * n, m * n), n,
                            1f, gb.Span.Slice(i * k * n, k * n), n);
            }
            return [ga, gb];
        });
    }

    static ReadOnlySpan<float> BatchOf(Tensor t, int i, int batches, int size) =>
        t.Span.Slice(batches == 1 ? 0 : i * size, size);

    /// <summary>
    /// x·Wᵀ + b in one BLAS call, as <c>torch.nn.functional.linear</c>. x: (…, in), weight: (out, in),
    /// bias: (out) or null; result (…, out).
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        var x = input;
        if (weight.Rank != 2 || x.Rank < 1 || x.Dims[^1] != weight.Dims[1])
            throw new InvalidInputException($"Linear: input of shape {ShapeText(x.Dims)} does not match weight of shape {ShapeText(weight.Dims)} (need (…, in) and (out, in))");
        int outFeatures = weight.Dims[0], inFeatures = weight.Dims[1];
        if (bias is not null && (bias.Rank != 1 || bias.Dims[0] != outFeatures))
            throw new InvalidInputException($"Linear: bias of shape {ShapeText(bias.Dims)} does not match weight of shape {ShapeText(weight.Dims)}");
        var rows = x.Count / Math.Max(inFeatures, 1);
        var dims = (int[])x.Dims.Clone();
        dims[^1] = outFeatures;
        var result = Empty(dims);
        var ys = result.Span;
        if (bias is not null) for (var r = 0; r < rows; r++) bias.Span.CopyTo(ys.Slice(r * outFeatures, outFeatures));
        Blas.Gemm(false, true, rows, outFeatures, inFeatures, 1f, x.Span, inFeatures, weight.Span, inFeatures,
            bias is null ? 0f : 1f, ys, outFeatures);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        return Autograd.Record(result, "Linear", inputs, g =>
        {
            var grads = new Tensor?[inputs.Length];
            if (x.RequiresGrad)
            {
                var gx = Empty(x.Dims);
                Blas.Gemm(false, false, rows, inFeatures, outFeatures, 1f, g.Span, outFeatures, weight.Span, inFeatures, 0f, gx.Span, inFeatures);
                grads[0] = gx;
            }
            if (weight.RequiresGrad)
            {
                var gw = Empty(weight.Dims);
                Blas.Gemm(true, false, outFeatures, inFeatures, rows, 1f, g.Span, outFeatures, x.Span, inFeatures, 0f, gw.Span, inFeatures);
                grads[1] = gw;
            }
            if (bias is not null && bias.RequiresGrad)
                grads[2] = SumAxisKeep(new Tensor(g.Storage, g.Offset, [rows, outFeatures]), 0).Reshape(outFeatures);
            return grads;
        });
    }
}
