namespace Pipeline.Inference.Runtime;

/// <summary>Where a model runs: the <c>--device</c> of every inference command.</summary>
public enum Device
{
    /// <summary>CUDA when ONNX Runtime's CUDA provider loads on this machine, else the CPU.</summary>
    Auto,
    /// <summary>ONNX Runtime's CPU provider.</summary>
    Cpu,
    /// <summary>ONNX Runtime's CUDA provider; an error when it cannot load.</summary>
    Cuda,
}
