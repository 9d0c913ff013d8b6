using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Shared.Arrays;

namespace Pipeline.Inference.Runtime;

/// <summary>A value fed to <see cref="ModelSession.Run"/>: a float32 array, or int64 values with a shape. Its buffer is handed to ONNX Runtime in place.</summary>
public sealed class ModelInput
{
    readonly float[]? floats;
    readonly long[]? longs;

    ModelInput(float[]? floats, long[]? longs, long[] shape)
    {
        this.floats = floats;
        this.longs = longs;
        Shape = shape;
        if (Length != (floats?.Length ?? longs!.Length))
            throw new ArgumentException($"a shape of {Length} elements over a buffer of {floats?.Length ?? longs!.Length}");
    }

    /// <summary>The tensor's shape.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary><see cref="TensorElementType.Float"/> or <see cref="TensorElementType.Int64"/>.</summary>
    public TensorElementType ElementType => floats is not null ? TensorElementType.Float : TensorElementType.Int64;

    long Length => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The array's own buffer, not a copy.</summary>
    public static ModelInput Float(NdArray array) => new(array.Data, null, array.Shape.Select(d => (long)d).ToArray());

    public static ModelInput Int64(long[] values, params long[] shape) => new(null, values, shape);

    public static ModelInput Int64Scalar(long value) => new(null, [value], []);

    /// <summary>An <see cref="OrtValue"/> over the pinned managed buffer; disposing it unpins the buffer.</summary>
    internal OrtValue ToOrtValue() => floats is not null
        ? OrtValue.CreateTensorValueFromMemory(floats, [.. Shape])
        : OrtValue.CreateTensorValueFromMemory(longs!, [.. Shape]);
}
