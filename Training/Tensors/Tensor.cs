using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

/// <summary>
/// A float32 tensor: a shape over a contiguous row-major window of a storage array, with reverse-mode
/// automatic differentiation in the spirit of PyTorch. Reshape, Detach and slices along the leading
/// dimensions are views that share storage; transposes and other slices copy. Operations are methods and
/// operators (<c>a.MatMul(b)</c>, <c>a + b</c>, <c>x.Relu()</c>); each records how to pass gradients back
/// when any input has <see cref="RequiresGrad"/> and gradient recording is on (see <see cref="NoGrad"/>).
/// </summary>
public partial class Tensor
{
    // The one seam between tensors and where their numbers live: a CPU array today.
    internal readonly float[] Storage;
    internal readonly int Offset;
    internal readonly int[] Dims;
    bool requiresGrad;

    internal Tensor(float[] storage, int offset, int[] dims)
    {
        Storage = storage;
        Offset = offset;
        Dims = dims;
        Count = CountOf(dims);
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of the given shape.</summary>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        var dims = CheckShape(shape);
        if (CountOf(dims) != data.Length)
            throw new InvalidInputException($"{data.Length} values cannot fill a tensor of shape {ShapeText(dims)}");
        return new Tensor(data, 0, dims);
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        var dims = CheckShape(shape);
        return new Tensor(new float[CountOf(dims)], 0, dims);
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Zeros(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    /// <summary>A zero-dimensional tensor holding one number.</summary>
    public static Tensor Scalar(float value) => new([value], 0, []);

    /// <summary>Copies an <see cref="NdArray"/> into a new tensor.</summary>
    public static Tensor From(NdArray array) => new((float[])array.Data.Clone(), 0, (int[])array.Shape.Clone());

    /// <summary>Uninitialised storage for kernels that overwrite every element.</summary>
    internal static Tensor Empty(int[] dims) => new(GC.AllocateUninitializedArray<float>(CountOf(dims)), 0, dims);

    /// <summary>The shape, outermost dimension first.</summary>
    public IReadOnlyList<int> Shape => Dims;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>Number of elements.</summary>
    public int Count { get; }

    /// <summary>Size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int Size(int dim) => Dims[NormalizeAxis(dim, Dims.Length)];

    /// <summary>The elements in row-major order; writing through it changes the tensor (and views of it).</summary>
    public Span<float> Span => Storage.AsSpan(Offset, Count);

    /// <summary>A copy of the elements in row-major order.</summary>
    public float[] ToArray() => Span.ToArray();

    /// <summary>A copy as an <see cref="NdArray"/>.</summary>
    public NdArray ToNdArray() => new((int[])Dims.Clone(), ToArray());

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Count != 1) throw new InvalidInputException($"Item() needs a one-element tensor, not shape {ShapeText(Dims)}");
        return Storage[Offset];
    }

    /// <summary>Element at a full index (for tests and inspection, not for hot loops).</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public float this[params int[] index]
    {
        get => Storage[Offset + FlatIndex(index)];
        set => Storage[Offset + FlatIndex(index)] = value;
    }

    /// <summary>
    /// Whether operations on this tensor record gradients. Only leaves (tensors not produced by a recorded
    /// operation) can be switched; results of operations on such tensors require gradients by themselves.
    /// </summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (Node is not null && !value)
                throw new InvalidOperationException("RequiresGrad can only be cleared on a leaf tensor; use Detach()");
            requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward()"/>, or null.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>True when no recorded operation produced this tensor.</summary>
    public bool IsLeaf => Node is null;

    internal GradNode? Node { get; set; }

    /// <summary>A view of the same numbers with no gradient history.</summary>
    public Tensor Detach() => new(Storage, Offset, Dims);

    /// <summary>A copy with its own storage (recorded: gradients flow back through it).</summary>
    public Tensor Clone()
    {
        var result = new Tensor(Span.ToArray(), 0, Dims);
        return Autograd.Record(result, "Clone", [this], g => [g]);
    }

    /// <summary>Fills the tensor in place without recording (initialisation, optimiser updates).</summary>
    public Tensor Fill(float value)
    {
        Span.Fill(value);
        return this;
    }

    /// <summary>Copies <paramref name="source"/>'s numbers into this tensor in place; shapes must match.</summary>
    public void CopyFrom(Tensor source)
    {
        RequireSameShape(source, "CopyFrom");
        source.Span.CopyTo(Span);
    }

    /// <inheritdoc/>
    public override string ToString() => $"Tensor{ShapeText(Dims)}{(RequiresGrad ? " requires grad" : "")}";

    internal static string ShapeText(IReadOnlyList<int> dims) => "[" + string.Join(", ", dims) + "]";

    internal void RequireSameShape(Tensor other, string operation)
    {
        if (!Dims.AsSpan().SequenceEqual(other.Dims))
            throw new InvalidInputException($"{operation}: shapes {ShapeText(Dims)} and {ShapeText(other.Dims)} differ");
    }

    internal static int CountOf(ReadOnlySpan<int> dims)
    {
        long count = 1;
        foreach (var d in dims) count *= d;
        if (count > Array.MaxLength) throw new InvalidInputException($"a tensor of shape {ShapeText(dims.ToArray())} is too large");
        return (int)count;
    }

    static int[] CheckShape(int[] shape)
    {
        foreach (var d in shape)
            if (d < 0) throw new InvalidInputException($"shape {ShapeText(shape)} has a negative dimension");
        return (int[])shape.Clone();
    }

    internal static int NormalizeAxis(int axis, int rank)
    {
        var a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1) || (rank == 0))
            throw new InvalidInputException($"axis {axis} is out of range for a tensor of rank {rank}");
        return a;
    }

    int FlatIndex(int[] index)
    {
        if (index.Length != Dims.Length)
            throw new InvalidInputException($"index of rank {index.Length} for a tensor of shape {ShapeText(Dims)}");
        var flat = 0;
        for (var d = 0; d < Dims.Length; d++)
        {
            if ((uint)index[d] >= (uint)Dims[d])
                throw new InvalidInputException($"index {ShapeText(index)} is outside shape {ShapeText(Dims)}");
            flat = flat * Dims[d] + index[d];
        }
        return flat;
    }

    /// <summary>Row-major strides of a shape, in elements.</summary>
    internal static int[] StridesOf(int[] dims)
    {
        var strides = new int[dims.Length];
        var s = 1;
        for (var d = dims.Length - 1; d >= 0; d--) { strides[d] = s; s *= dims[d]; }
        return strides;
    }
}
