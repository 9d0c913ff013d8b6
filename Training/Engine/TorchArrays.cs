using Pipeline.Shared.Arrays;
using TorchSharp;

namespace Pipeline.Training.Engine;

/// <summary>Tensors as the rest of the product takes them (the graph builder, .npy files): float32 values copied to the CPU.</summary>
public static class TorchArrays
{
    /// <summary>The tensor's values and shape (detached, on the CPU, as float32).</summary>
    public static NdArray ToNdArray(torch.Tensor t)
    {
        using var values = t.detach().cpu().to_type(torch.ScalarType.Float32);
        return new NdArray([.. t.shape.Select(s => (int)s)], values.data<float>().ToArray());
    }
}
