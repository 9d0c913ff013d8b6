using Pipeline.Shared.Arrays;
using TorchSharp;

namespace Pipeline.Training.Export;

/// <summary>A trained module's tensors as the graph builder takes them: float32 values copied to the CPU.</summary>
static class TorchValues
{
    /// <summary>The tensor's values and shape (detached, on the CPU, as float32).</summary>
    public static NdArray ToNdArray(torch.Tensor t)
    {
        using var values = t.detach().cpu().to_type(torch.ScalarType.Float32);
        return new NdArray([.. t.shape.Select(s => (int)s)], values.data<float>().ToArray());
    }
}
