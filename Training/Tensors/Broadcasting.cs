using System.Numerics.Tensors;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

/// <summary>The four arithmetic operations that broadcast.</summary>
internal enum BinaryOp { Add, Subtract, Multiply, Divide }

/// <summary>
/// NumPy/PyTorch broadcasting kernels. Shapes align at the right; a dimension of size 1 (or a missing one)
/// stretches. The innermost dimension runs as one vector call, so the common layouts ((N, C) with (C), (N, 1)
/// or a scalar) cost no more than a plain elementwise pass.
/// </summary>
internal static class Broadcasting
{
    public static int[] Shape(int[] a, int[] b, string operation)
    {
        var rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            var db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new InvalidInputException($"{operation}: shapes {Tensor.ShapeText(a)} and {Tensor.ShapeText(b)} do not broadcast");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides of <paramref name="dims"/> seen from an output of shape <paramref name="outDims"/>: 0 where it stretches.</summary>
    static int[] StretchedStrides(int[] dims, int[] outDims)
    {
        var strides = new int[outDims.Length];
        var own = Tensor.StridesOf(dims);
        var shift = outDims.Length - dims.Length;
        for (var i = shift; i < outDims.Length; i++)
            strides[i] = dims[i - shift] == 1 ? 0 : own[i - shift];
        return strides;
    }

    public static Tensor Apply(Tensor a, Tensor b, BinaryOp op, string operation)
    {
        if (a.Dims.AsSpan().SequenceEqual(b.Dims))
        {
            var same = Tensor.Empty(a.Dims);
            Vector(op, a.Span, b.Span, same.Span);
            return same;
        }
        var dims = Shape(a.Dims, b.Dims, operation);
        var result = Tensor.Empty(dims);
        if (dims.Length == 0) { result.Span[0] = Scalar(op, a.Span[0], b.Span[0]); return result; }
        var sa = StretchedStrides(a.Dims, dims);
        var sb = StretchedStrides(b.Dims, dims);
        var inner = dims[^1];
        var (ia, ib) = (sa[^1], sb[^1]);
        ReadOnlySpan<float> da = a.Span, db = b.Span;
        var dr = result.Span;
        var rows = inner == 0 ? 0 : result.Count / inner;
        var index = new int[dims.Length - 1];
        int oa = 0, ob = 0;
        for (var row = 0; row < rows; row++)
        {
            var r = dr.Slice(row * inner, inner);
            if (ia == 1 && ib == 1) Vector(op, da.Slice(oa, inner), db.Slice(ob, inner), r);
            else if (ia == 1) VectorScalar(op, da.Slice(oa, inner), db[ob], r);
            else if (ib == 1) ScalarVector(op, da[oa], db.Slice(ob, inner), r);
            else r.Fill(Scalar(op, da[oa], db[ob]));
            Advance(index, dims, sa, sb, ref oa, ref ob);
        }
        return result;
    }

    /// <summary>Sums <paramref name="grad"/> over the dimensions along which <paramref name="dims"/> was stretched.</summary>
    public static Tensor ReduceTo(Tensor grad, int[] dims)
    {
        if (grad.Dims.AsSpan().SequenceEqual(dims)) return grad;
        var result = Tensor.Zeros(dims);
        if (grad.Rank == 0) { result.Span[0] = grad.Span[0]; return result; }
        var st = StretchedStrides(dims, grad.Dims);
        var unused = new int[grad.Rank];
        var inner = grad.Dims[^1];
        var it = st[^1];
        ReadOnlySpan<float> g = grad.Span;
        var dr = result.Span;
        var rows = inner == 0 ? 0 : grad.Count / inner;
        var index = new int[grad.Rank - 1];
        int ot = 0, none = 0;
        for (var row = 0; row < rows; row++)
        {
            var gr = g.Slice(row * inner, inner);
            if (it == 1) TensorPrimitives.Add(dr.Slice(ot, inner), gr, dr.Slice(ot, inner));
            else dr[ot] += TensorPrimitives.Sum(gr);
            Advance(index, grad.Dims, st, unused, ref ot, ref none);
        }
        return result;
    }

    /// <summary>Copies <paramref name="source"/> stretched to <paramref name="dims"/>.</summary>
    public static Tensor Expand(Tensor source, int[] dims)
    {
        var result = Tensor.Empty(dims);
        if (dims.Length == 0) { result.Span[0] = source.Span[0]; return result; }
        var ss = StretchedStrides(source.Dims, dims);
        var unused = new int[dims.Length];
        var inner = dims[^1];
        ReadOnlySpan<float> s = source.Span;
        var dr = result.Span;
        var rows = inner == 0 ? 0 : result.Count / inner;
        var index = new int[dims.Length - 1];
        int os = 0, none = 0;
        for (var row = 0; row < rows; row++)
        {
            if (ss[^1] == 1) s.Slice(os, inner).CopyTo(dr.Slice(row * inner, inner));
            else dr.Slice(row * inner, inner).Fill(s[os]);
            Advance(index, dims, ss, unused, ref os, ref none);
        }
        return result;
    }

    // Steps the odometer over all dimensions but the last, keeping two operand offsets in step.
    static void Advance(int[] index, int[] dims, int[] sa, int[] sb, ref int oa, ref int ob)
    {
        for (var d = index.Length - 1; d >= 0; d--)
        {
            index[d]++;
            oa += sa[d];
            ob += sb[d];
            if (index[d] < dims[d]) return;
            oa -= sa[d] * dims[d];
            ob -= sb[d] * dims[d];
            index[d] = 0;
        }
    }

    static float Scalar(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Subtract => x - y,
        BinaryOp.Multiply => x * y,
        _ => x / y,
    };

    public static void Vector(BinaryOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> r)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, r); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, r); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, r); break;
            default: TensorPrimitives.Divide(x, y, r); break;
        }
    }

    public static void VectorScalar(BinaryOp op, ReadOnlySpan<float> x, float y, Span<float> r)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, r); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, r); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(x, y, r); break;
            default: TensorPrimitives.Divide(x, y, r); break;
        }
    }

    public static void ScalarVector(BinaryOp op, float x, ReadOnlySpan<float> y, Span<float> r)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(y, x, r); break;
            case BinaryOp.Subtract: TensorPrimitives.Subtract(x, y, r); break;
            case BinaryOp.Multiply: TensorPrimitives.Multiply(y, x, r); break;
            default: TensorPrimitives.Divide(x, y, r); break;
        }
    }
}
