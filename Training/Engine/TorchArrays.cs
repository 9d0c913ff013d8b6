using Pipeline.Shared.Arrays;
using TorchSharp;

namespace Pipeline.Training.Engine;

/// <summary>Tensors as the rest of the product takes them (the graph builder, .npy files): float32 values copied to the CPU.</summary>
public static class TorchArrays
{
    /// <summary>The tensor's values and shape (detached, on the CPU, as float32).</summary>
    public static NdArray ToNdArray(torch.Tensor t)
    {
        using var values = t.detach().cpu().to_type(torch.ScalarType.Float32).contiguous();
        return new NdArray([.. t.shape.Select(s => (int)s)], values.data<float>().ToArray());
    }

    /// <summary>A float32 tensor of <paramref name="array"/>'s shape holding a copy of its values, on <paramref name="device"/> (the CPU when null).</summary>
    public static torch.Tensor FromNdArray(NdArray array, torch.Device? device = null) =>
        torch.tensor(array.Data, [.. array.Shape.Select(s => (long)s)], device: device);

    /// <summary>
    /// The address of a CPU float32 tensor's first element in its storage, for the fused kernels that work on a
    /// tensor's own memory (the tensor must stay alive and contiguous while the address is used).
    /// </summary>
    public static unsafe IntPtr Float32Pointer(torch.Tensor t) => (IntPtr)((float*)t.storage<float>().data_ptr() + t.storage_offset());

    /// <summary>Whether every tensor is float32, contiguous and on the CPU: the fused kernels' precondition.</summary>
    public static bool CpuFloat32(params torch.Tensor[] tensors) =>
        tensors.All(x => x.device_type == DeviceType.CPU && x.dtype == torch.ScalarType.Float32 && x.is_contiguous());
}
