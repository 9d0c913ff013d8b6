using Microsoft.ML.OnnxRuntime;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// How sessions are created: device, threads, graph optimisation and the CPU memory arena. Plain values; each
/// <see cref="ModelSession"/> turns them into ONNX Runtime's <see cref="SessionOptions"/> when it opens a graph.
/// </summary>
public sealed record RuntimeOptions
{
    /// <summary>The device; <see cref="Device.Auto"/> (the default) takes CUDA when its provider loads.</summary>
    public Device Device { get; init; } = Device.Auto;

    /// <summary>GPU ordinal for CUDA.</summary>
    public int DeviceId { get; init; }

    /// <summary>Threads inside one operator (ONNX Runtime's intra-op pool); 0 lets ONNX Runtime take one per physical core.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>How much ONNX Runtime rewrites the graph before running it; all rewrites by default.</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// ONNX Runtime's arena for CPU tensors (on by default: it keeps buffers between runs). Off, every run allocates
    /// and frees its intermediates, which keeps the resident size at its minimum between calls.
    /// </summary>
    public bool CpuMemoryArena { get; init; } = true;

    /// <summary>The most intra-op threads a session may ask for: four per core.</summary>
    public static int MaxThreads => Shared.Threading.ComputeThreads.Limit;

    /// <summary>Every problem with these values at once.</summary>
    /// <exception cref="InvalidOptionException">A value is out of range.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (IntraOpThreads < 0) problems.Add($"threads must be ≥ 0, got {IntraOpThreads}");
        // ONNX Runtime starts its pool's threads when the session is made: a typo of 100000 would start that many.
        if (IntraOpThreads > MaxThreads) problems.Add($"threads must be at most {MaxThreads} (4 per core here), got {IntraOpThreads}");
        if (DeviceId < 0) problems.Add($"the device id must be ≥ 0, got {DeviceId}");
        if (!Enum.IsDefined(Device)) problems.Add($"unknown device {(int)Device}");
        if (!Enum.IsDefined(OptimizationLevel)) problems.Add($"unknown graph optimisation level {(int)OptimizationLevel}");
        if (problems.Count > 0) throw new InvalidOptionException(string.Join("; ", problems));
    }
}
