using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>What tests read from LibTorch tensors.</summary>
static class TorchValues
{
    /// <summary>The values in row-major order (detached, on the CPU, as float32).</summary>
    public static float[] Values(this Tensor t)
    {
        using var values = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return values.data<float>().ToArray();
    }

    /// <summary>One entry as a double.</summary>
    public static double At(this Tensor t, params long[] index)
    {
        using var entry = t.detach()[index.Select(i => TensorIndex.Single(i)).ToArray()];
        return entry.to_type(ScalarType.Float64).item<double>();
    }
}
