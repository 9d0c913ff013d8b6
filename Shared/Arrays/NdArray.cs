using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Arrays;

/// <summary>
/// A dense float32 array in C (row-major) order: what crosses the boundary between files, the training
/// engine and ONNX Runtime. It owns its buffer; shapes are checked once, at construction.
/// </summary>
public sealed class NdArray
{
    public NdArray(int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new InvalidInputException($"array dimensions must be non-negative, got ({string.Join(", ", shape)})");
            count *= d;
        }
        if (count != data.Length)
            throw new InvalidInputException($"shape ({string.Join(", ", shape)}) holds {count} values but {data.Length} were given");
        Shape = (int[])shape.Clone();
        Data = data;
    }

    /// <summary>A zero-filled array.</summary>
    public static NdArray Zeros(params int[] shape)
    {
        long count = 1;
        foreach (var d in shape) count *= d;
        return new NdArray(shape, new float[count]);
    }

    public int[] Shape { get; }
    public float[] Data { get; }
    public int Rank => Shape.Length;
    public int Length => Data.Length;

    /// <summary>Rows of a matrix (dimension 0); the array must be 2-D.</summary>
    public int Rows => Rank == 2 ? Shape[0] : throw new InvalidInputException($"expected a matrix, got shape {ShapeText}");
    /// <summary>Columns of a matrix (dimension 1); the array must be 2-D.</summary>
    public int Columns => Rank == 2 ? Shape[1] : throw new InvalidInputException($"expected a matrix, got shape {ShapeText}");

    public float this[int row, int column]
    {
        get => Data[row * Shape[1] + column];
        set => Data[row * Shape[1] + column] = value;
    }

    public string ShapeText => "(" + string.Join(", ", Shape) + ")";

    public NdArray Clone() => new(Shape, (float[])Data.Clone());

    /// <summary>The flat position of the first NaN or ±∞, or −1 when every value is finite.</summary>
    public int FirstNonFinite() => Array.FindIndex(Data, x => !float.IsFinite(x));

    /// <summary>Throws unless every value is finite, naming the first offending entry.</summary>
    public void RequireFinite(string what)
    {
        var i = FirstNonFinite();
        if (i >= 0) throw new InvalidInputException($"{what} must be finite, but holds {(float.IsNaN(Data[i]) ? "NaN" : "an infinite value")} at {IndexText(i)}");
    }

    /// <summary>Throws unless every value is finite and ≥ 0, naming the first offending entry.</summary>
    public void RequireNonNegativeFinite(string what)
    {
        var data = Data;
        for (var i = 0; i < data.Length; i++)
        {
            var x = data[i];
            if (float.IsFinite(x) && x >= 0) continue;
            var kind = float.IsNaN(x) ? "NaN" : float.IsInfinity(x) ? "an infinite value" : $"a negative value ({x})";
            throw new InvalidInputException($"{what} must be non-negative and finite, but holds {kind} at {IndexText(i)}");
        }
    }

    /// <summary>
    /// The checks both sides apply to data for a β-divergence decomposition: a non-empty (rows, frames) matrix of
    /// non-negative finite values, with <paramref name="expectedRows"/> rows when given, and no zeros for β ≤ 0.
    /// </summary>
    public void RequireDecompositionInput(string name, string rowMeaning, double beta, int? expectedRows = null)
    {
        if (Rank != 2) throw new InvalidInputException($"{name} must be a matrix ({rowMeaning}, frames), got shape {ShapeText}");
        if (expectedRows is { } rows && Rows != rows)
            throw new InvalidInputException($"{name} has shape {ShapeText} but the model expects ({rows}, frames): {rows} {rowMeaning}");
        if (Rows == 0 || Columns == 0) throw new InvalidInputException($"{name} is empty: shape {ShapeText}");
        RequireNonNegativeFinite(name);
        if (beta <= 0 && Array.IndexOf(Data, 0f) is var zero and >= 0)
            throw new InvalidInputException($"{name} holds a zero at {IndexText(zero)}, and the β = {beta} divergence is undefined for zeros; add a small floor to {name} or use β > 0");
    }

    /// <summary>The multi-index of flat position <paramref name="flat"/>, as text.</summary>
    public string IndexText(int flat)
    {
        var index = new int[Rank];
        for (var d = Rank - 1; d >= 0; d--)
        {
            var n = Math.Max(Shape[d], 1);
            index[d] = flat % n;
            flat /= n;
        }
        return "[" + string.Join(", ", index) + "]";
    }
}
