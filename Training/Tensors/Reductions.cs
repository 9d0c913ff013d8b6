using System.Numerics.Tensors;

namespace Pipeline.Training.Tensors;

public partial class Tensor
{
    /// <summary>Sum of all elements (a zero-dimensional tensor).</summary>
    public Tensor Sum() => Sum(AllAxes(), keepDim: false);

    /// <summary>Sum over <paramref name="axes"/> (negative counts from the end).</summary>
    public Tensor Sum(int[] axes, bool keepDim = false)
    {
        var x = this;
        var sorted = NormalizeAxes(axes);
        var kept = x;
        foreach (var axis in sorted) kept = SumAxisKeep(kept, axis);
        var result = keepDim ? kept : new Tensor(kept.Storage, 0, Without(x.Dims, sorted));
        var keptDims = kept.Dims;
        return Autograd.Record(result, "Sum", [x], g => [Broadcasting.Expand(new Tensor(g.Storage, g.Offset, keptDims), x.Dims)]);
    }

    /// <summary>Sum over one axis.</summary>
    public Tensor Sum(int axis, bool keepDim = false) => Sum([axis], keepDim);

    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => Count == 0 ? Sum() : Sum().Mul(1f / Count);

    /// <summary>Mean over <paramref name="axes"/>.</summary>
    public Tensor Mean(int[] axes, bool keepDim = false)
    {
        var n = 1;
        foreach (var a in NormalizeAxes(axes)) n *= Dims[a];
        return Sum(axes, keepDim).Mul(1f / n);
    }

    /// <summary>Mean over one axis.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => Mean([axis], keepDim);

    /// <summary>Largest element (gradient to its first occurrence).</summary>
    public Tensor Max() => Reshape(Count).Max(0);

    /// <summary>Largest value along <paramref name="axis"/>; the gradient goes to the first maximum, as <c>torch.max(x, dim)</c> does.</summary>
    public Tensor Max(int axis, bool keepDim = false)
    {
        var x = this;
        var a = NormalizeAxis(axis, Rank);
        var (outer, n, inner) = Split(x.Dims, a);
        if (n == 0) throw new Shared.Errors.InvalidInputException($"Max over an empty axis of shape {ShapeText(Dims)}");
        var keptDims = WithOne(x.Dims, a);
        var result = Empty(keepDim ? keptDims : Without(x.Dims, [a]));
        var where = new int[outer * inner];
        ReadOnlySpan<float> xs = x.Span;
        var rs = result.Span;
        for (var o = 0; o < outer; o++)
            for (var i = 0; i < inner; i++)
            {
                var baseIndex = o * n * inner + i;
                var best = xs[baseIndex];
                var arg = 0;
                for (var j = 1; j < n; j++)
                {
                    var v = xs[baseIndex + j * inner];
                    if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; arg = j; }
                }
                rs[o * inner + i] = best;
                where[o * inner + i] = arg;
            }
        return Autograd.Record(result, "Max", [x], g =>
        {
            var d = Zeros(x.Dims);
            var ds = d.Span;
            ReadOnlySpan<float> gs = g.Span;
            for (var o = 0; o < outer; o++)
                for (var i = 0; i < inner; i++)
                    ds[o * n * inner + where[o * inner + i] * inner + i] = gs[o * inner + i];
            return [d];
        });
    }

    /// <summary>ln Σ exp(x) along <paramref name="axis"/>, computed stably (shifted by the maximum).</summary>
    public Tensor LogSumExp(int axis, bool keepDim = false)
    {
        var x = this;
        var a = NormalizeAxis(axis, Rank);
        var (outer, n, inner) = Split(x.Dims, a);
        var keptDims = WithOne(x.Dims, a);
        var kept = Empty(keptDims);
        ReadOnlySpan<float> xs = x.Span;
        var ks = kept.Span;
        for (var o = 0; o < outer; o++)
            for (var i = 0; i < inner; i++)
            {
                var baseIndex = o * n * inner + i;
                var m = float.NegativeInfinity;
                for (var j = 0; j < n; j++) m = MathF.Max(m, xs[baseIndex + j * inner]);
                var shift = float.IsInfinity(m) ? 0f : m;
                double s = 0;
                for (var j = 0; j < n; j++) s += Math.Exp(xs[baseIndex + j * inner] - shift);
                ks[o * inner + i] = (float)(Math.Log(s) + shift);
            }
        var result = keepDim ? kept : new Tensor(kept.Storage, 0, Without(x.Dims, [a]));
        return Autograd.Record(result, "LogSumExp", [x], g =>
        {
            // d lse / dx = softmax(x) along the axis
            var d = Empty(x.Dims);
            var ds = d.Span;
            ReadOnlySpan<float> gs = g.Span, xv = x.Span, kv = kept.Span;
            for (var o = 0; o < outer; o++)
                for (var j = 0; j < n; j++)
                    for (var i = 0; i < inner; i++)
                    {
                        var at = (o * n + j) * inner + i;
                        ds[at] = gs[o * inner + i] * MathF.Exp(xv[at] - kv[o * inner + i]);
                    }
            return [d];
        });
    }

    static Tensor SumAxisKeep(Tensor x, int axis)
    {
        var (outer, n, inner) = Split(x.Dims, axis);
        var result = Zeros(WithOne(x.Dims, axis));
        ReadOnlySpan<float> xs = x.Span;
        var rs = result.Span;
        for (var o = 0; o < outer; o++)
        {
            if (inner == 1) { rs[o] = TensorPrimitives.Sum(xs.Slice(o * n, n)); continue; }
            var row = rs.Slice(o * inner, inner);
            for (var j = 0; j < n; j++) TensorPrimitives.Add(row, xs.Slice((o * n + j) * inner, inner), row);
        }
        return result;
    }

    /// <summary>(product of dims before axis, dims[axis], product after).</summary>
    internal static (int Outer, int N, int Inner) Split(int[] dims, int axis)
    {
        int outer = 1, inner = 1;
        for (var d = 0; d < axis; d++) outer *= dims[d];
        for (var d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return (outer, dims[axis], inner);
    }

    int[] AllAxes()
    {
        var axes = new int[Rank];
        for (var i = 0; i < axes.Length; i++) axes[i] = i;
        return axes;
    }

    int[] NormalizeAxes(int[] axes)
    {
        var set = new SortedSet<int>();
        foreach (var a in axes)
            if (!set.Add(NormalizeAxis(a, Rank)))
                throw new Shared.Errors.InvalidInputException($"axis {a} is listed twice");
        return set.Reverse().ToArray();
    }

    static int[] WithOne(int[] dims, int axis)
    {
        var r = (int[])dims.Clone();
        r[axis] = 1;
        return r;
    }

    static int[] Without(int[] dims, int[] axes)
    {
        var r = new List<int>();
        for (var d = 0; d < dims.Length; d++)
            if (Array.IndexOf(axes, d) < 0) r.Add(dims[d]);
        return r.ToArray();
    }
}
