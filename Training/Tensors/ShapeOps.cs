using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

/// <summary>How <see cref="Tensor.Pad"/> fills the new border.</summary>
public enum PadMode
{
    /// <summary>Zeros.</summary>
    Zeros,
    /// <summary>Mirror without repeating the edge (<c>[a b c] → b [a b c] b</c>), as <c>F.pad(mode="reflect")</c>.</summary>
    Reflect,
}

public partial class Tensor
{
    /// <summary>The same numbers under a new shape (a view; one dimension may be −1).</summary>
    public Tensor Reshape(params int[] shape)
    {
        var x = this;
        var dims = (int[])shape.Clone();
        var free = Array.IndexOf(dims, -1);
        var known = 1;
        for (var i = 0; i < dims.Length; i++)
            if (i != free)
            {
                if (dims[i] < 0) throw new InvalidInputException($"Reshape: shape {ShapeText(shape)} has a negative dimension");
                known *= dims[i];
            }
        if (free >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new InvalidInputException($"Reshape: cannot view shape {ShapeText(Dims)} as {ShapeText(shape)}");
            dims[free] = Count / known;
        }
        if (CountOf(dims) != Count)
            throw new InvalidInputException($"Reshape: cannot view shape {ShapeText(Dims)} ({Count} elements) as {ShapeText(shape)}");
        var result = new Tensor(Storage, Offset, dims);
        return Autograd.Record(result, "Reshape", [x], g => [new Tensor(g.Storage, g.Offset, x.Dims)]);
    }

    /// <summary>Collapses dimensions <paramref name="startDim"/>…end into one, like <c>torch.flatten</c>.</summary>
    public Tensor Flatten(int startDim = 0)
    {
        var s = NormalizeAxis(startDim, Rank);
        var dims = new int[s + 1];
        Array.Copy(Dims, dims, s);
        dims[s] = -1;
        return Reshape(dims);
    }

    /// <summary>Reorders dimensions: result dimension i is input dimension <paramref name="order"/>[i] (copies).</summary>
    public Tensor Permute(params int[] order)
    {
        var x = this;
        if (order.Length != Rank) throw new InvalidInputException($"Permute: order {ShapeText(order)} for a tensor of shape {ShapeText(Dims)}");
        var seen = new bool[Rank];
        var axes = new int[Rank];
        for (var i = 0; i < Rank; i++)
        {
            axes[i] = NormalizeAxis(order[i], Rank);
            if (seen[axes[i]]) throw new InvalidInputException($"Permute: order {ShapeText(order)} repeats an axis");
            seen[axes[i]] = true;
        }
        var result = PermuteCopy(x, axes);
        var inverse = new int[Rank];
        for (var i = 0; i < Rank; i++) inverse[axes[i]] = i;
        return Autograd.Record(result, "Permute", [x], g => [PermuteCopy(g, inverse)]);
    }

    /// <summary>Swaps two dimensions (copies).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        var order = new int[Rank];
        for (var i = 0; i < Rank; i++) order[i] = i;
        var (a, b) = (NormalizeAxis(dim0, Rank), NormalizeAxis(dim1, Rank));
        (order[a], order[b]) = (order[b], order[a]);
        return Permute(order);
    }

    /// <summary>The matrix transpose of a 2-D tensor.</summary>
    public Tensor T() => Rank == 2 ? Transpose(0, 1) : throw new InvalidInputException($"T() needs a 2-D tensor, not shape {ShapeText(Dims)}");

    static Tensor PermuteCopy(Tensor x, int[] axes)
    {
        var rank = x.Rank;
        var dims = new int[rank];
        var inStrides = StridesOf(x.Dims);
        var strides = new int[rank];
        for (var i = 0; i < rank; i++) { dims[i] = x.Dims[axes[i]]; strides[i] = inStrides[axes[i]]; }
        var result = Empty(dims);
        if (result.Count == 0) return result;
        if (rank == 0) { result.Span[0] = x.Span[0]; return result; }
        ReadOnlySpan<float> xs = x.Span;
        var rs = result.Span;
        var inner = dims[^1];
        var innerStride = strides[^1];
        var index = new int[rank - 1];
        var source = 0;
        for (var row = 0; row < result.Count / inner; row++)
        {
            var r = rs.Slice(row * inner, inner);
            if (innerStride == 1) xs.Slice(source, inner).CopyTo(r);
            else for (var j = 0; j < inner; j++) r[j] = xs[source + j * innerStride];
            for (var d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                source += strides[d];
                if (index[d] < dims[d]) break;
                source -= strides[d] * dims[d];
                index[d] = 0;
            }
        }
        return result;
    }

    /// <summary>
    /// Elements <paramref name="start"/> … start+length−1 along <paramref name="axis"/>. A view when every
    /// dimension before the axis has size 1 (for example rows of a matrix); otherwise a copy.
    /// </summary>
    public Tensor Slice(int axis, int start, int length)
    {
        var x = this;
        var a = NormalizeAxis(axis, Rank);
        if (start < 0 || length < 0 || start + length > Dims[a])
            throw new InvalidInputException($"Slice: [{start}, {start + length}) is outside axis {a} of size {Dims[a]} (shape {ShapeText(Dims)})");
        var (outer, n, inner) = Split(Dims, a);
        var dims = (int[])Dims.Clone();
        dims[a] = length;
        Tensor result;
        if (outer == 1) result = new Tensor(Storage, Offset + start * inner, dims);
        else
        {
            result = Empty(dims);
            ReadOnlySpan<float> xs = x.Span;
            var rs = result.Span;
            for (var o = 0; o < outer; o++)
                xs.Slice((o * n + start) * inner, length * inner).CopyTo(rs.Slice(o * length * inner, length * inner));
        }
        return Autograd.Record(result, "Slice", [x], g =>
        {
            var d = Zeros(x.Dims);
            ReadOnlySpan<float> gs = g.Span;
            var ds = d.Span;
            for (var o = 0; o < outer; o++)
                gs.Slice(o * length * inner, length * inner).CopyTo(ds.Slice((o * n + start) * inner, length * inner));
            return [d];
        });
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other dimensions must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis)
    {
        if (tensors.Count == 0) throw new InvalidInputException("Concat needs at least one tensor");
        var first = tensors[0];
        var a = NormalizeAxis(axis, first.Rank);
        var dims = (int[])first.Dims.Clone();
        dims[a] = 0;
        foreach (var t in tensors)
        {
            var ok = t.Rank == first.Rank;
            for (var d = 0; ok && d < t.Rank; d++) ok = d == a || t.Dims[d] == first.Dims[d];
            if (!ok) throw new InvalidInputException($"Concat along axis {a}: shapes {ShapeText(first.Dims)} and {ShapeText(t.Dims)} differ off that axis");
            dims[a] += t.Dims[a];
        }
        var (outer, total, inner) = Split(dims, a);
        var result = Empty(dims);
        var rs = result.Span;
        var offset = 0;
        foreach (var t in tensors)
        {
            var block = t.Dims[a] * inner;
            ReadOnlySpan<float> ts = t.Span;
            for (var o = 0; o < outer; o++) ts.Slice(o * block, block).CopyTo(rs.Slice(o * total * inner + offset * inner, block));
            offset += t.Dims[a];
        }
        var inputs = tensors.ToArray();
        return Autograd.Record(result, "Concat", inputs, g =>
        {
            var grads = new Tensor?[inputs.Length];
            var at = 0;
            for (var k = 0; k < inputs.Length; k++)
            {
                var size = inputs[k].Dims[a];
                if (inputs[k].RequiresGrad) grads[k] = g.Detach().Slice(a, at, size).Contiguous();
                at += size;
            }
            return grads;
        });
    }

    // A slice view of a detached gradient shares storage; the engine expects a tensor of its own.
    Tensor Contiguous() => Offset == 0 && Storage.Length == Count ? this : new Tensor(Span.ToArray(), 0, Dims);

    /// <summary>
    /// Pads the last dimensions. <paramref name="padding"/> lists (before, after) pairs starting from the last
    /// dimension, as <c>torch.nn.functional.pad</c> does: (left, right) or (left, right, top, bottom), ...
    /// </summary>
    public Tensor Pad(int[] padding, PadMode mode = PadMode.Zeros)
    {
        if (padding.Length % 2 != 0 || padding.Length / 2 > Rank)
            throw new InvalidInputException($"Pad: {padding.Length} padding values for a tensor of shape {ShapeText(Dims)}; give (before, after) pairs from the last dimension");
        var result = this;
        for (var p = 0; p < padding.Length / 2; p++)
            result = result.PadAxis(Rank - 1 - p, padding[2 * p], padding[2 * p + 1], mode);
        return result;
    }

    Tensor PadAxis(int axis, int before, int after, PadMode mode)
    {
        var x = this;
        var (outer, n, inner) = Split(Dims, axis);
        if (before < 0 || after < 0) throw new InvalidInputException($"Pad: negative padding ({before}, {after})");
        if (mode == PadMode.Reflect && (before >= n || after >= n))
            throw new InvalidInputException($"Pad: reflect padding ({before}, {after}) must be smaller than the padded dimension {n} (shape {ShapeText(Dims)})");
        var m = n + before + after;
        // source index along the axis for every output position, −1 for a zero
        var source = new int[m];
        for (var j = 0; j < m; j++)
        {
            var s = j - before;
            if (s < 0 || s >= n) s = mode == PadMode.Zeros ? -1 : s < 0 ? -s : 2 * (n - 1) - s;
            source[j] = s;
        }
        var dims = (int[])Dims.Clone();
        dims[axis] = m;
        var result = Zeros(dims);
        ReadOnlySpan<float> xs = x.Span;
        var rs = result.Span;
        for (var o = 0; o < outer; o++)
            for (var j = 0; j < m; j++)
                if (source[j] >= 0) xs.Slice((o * n + source[j]) * inner, inner).CopyTo(rs.Slice((o * m + j) * inner, inner));
        return Autograd.Record(result, "Pad", [x], g =>
        {
            var d = Zeros(x.Dims);
            ReadOnlySpan<float> gs = g.Span;
            var ds = d.Span;
            for (var o = 0; o < outer; o++)
                for (var j = 0; j < m; j++)
                    if (source[j] >= 0)
                    {
                        var target = ds.Slice((o * n + source[j]) * inner, inner);
                        System.Numerics.Tensors.TensorPrimitives.Add(target, gs.Slice((o * m + j) * inner, inner), target);
                    }
            return [d];
        });
    }

    /// <summary>
    /// Picks entries <paramref name="indices"/> along <paramref name="axis"/> (repeats allowed), like
    /// <c>torch.index_select</c>; with axis 0 this gathers a mini-batch of rows.
    /// </summary>
    public Tensor IndexSelect(int axis, ReadOnlySpan<int> indices)
    {
        var x = this;
        var a = NormalizeAxis(axis, Rank);
        var (outer, n, inner) = Split(Dims, a);
        var picked = indices.ToArray();
        foreach (var i in picked)
            if ((uint)i >= (uint)n) throw new InvalidInputException($"IndexSelect: index {i} is outside axis {a} of size {n} (shape {ShapeText(Dims)})");
        var m = picked.Length;
        var dims = (int[])Dims.Clone();
        dims[a] = m;
        var result = Empty(dims);
        ReadOnlySpan<float> xs = x.Span;
        var rs = result.Span;
        for (var o = 0; o < outer; o++)
            for (var j = 0; j < m; j++)
                xs.Slice((o * n + picked[j]) * inner, inner).CopyTo(rs.Slice((o * m + j) * inner, inner));
        return Autograd.Record(result, "IndexSelect", [x], g =>
        {
            var d = Zeros(x.Dims);
            ReadOnlySpan<float> gs = g.Span;
            var ds = d.Span;
            for (var o = 0; o < outer; o++)
                for (var j = 0; j < m; j++)
                {
                    var target = ds.Slice((o * n + picked[j]) * inner, inner);
                    System.Numerics.Tensors.TensorPrimitives.Add(target, gs.Slice((o * m + j) * inner, inner), target);
                }
            return [d];
        });
    }

    /// <summary>Stretches size-1 dimensions to <paramref name="shape"/> (copies; gradients are summed back).</summary>
    public Tensor Expand(params int[] shape)
    {
        var x = this;
        var dims = Broadcasting.Shape(Dims, shape, "Expand");
        if (!dims.AsSpan().SequenceEqual(shape))
            throw new InvalidInputException($"Expand: shape {ShapeText(Dims)} cannot be expanded to {ShapeText(shape)}");
        var result = Broadcasting.Expand(x, dims);
        return Autograd.Record(result, "Expand", [x], g => [Broadcasting.ReduceTo(g, x.Dims)]);
    }
}
