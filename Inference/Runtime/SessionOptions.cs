namespace Pipeline.Inference.Runtime;

/// <summary>Where a session's kernels run.</summary>
public enum ExecutionProvider { Cpu, Cuda }

/// <summary>How much ONNX Runtime rewrites the graph before running it.</summary>
public enum GraphOptimizationLevel { Disabled = 0, Basic = 1, Extended = 2, All = 99 }

/// <summary>Options of an <see cref="InferenceSession"/>; plain values, applied when the session is created.</summary>
public sealed record SessionOptions
{
    /// <summary>Threads inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.All;
    /// <summary>CUDA is used only when asked for; a library without it fails with ONNX Runtime's reason.</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;
    /// <summary>GPU ordinal for <see cref="ExecutionProvider.Cuda"/>.</summary>
    public int DeviceId { get; init; }

    internal unsafe OrtHandle Create()
    {
        if (IntraOpThreads < 0) throw new Shared.Errors.InvalidOptionException($"intra-op threads must be ≥ 0, got {IntraOpThreads}");
        IntPtr options;
        OrtApi.Check(((delegate* unmanaged<IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateSessionOptions))(&options));
        var handle = new OrtHandle(options, OrtApi.ReleaseSessionOptions);
        try
        {
            OrtApi.Check(((delegate* unmanaged<IntPtr, int, IntPtr>)OrtApi.Fn(OrtApi.SetIntraOpNumThreads))(options, IntraOpThreads));
            OrtApi.Check(((delegate* unmanaged<IntPtr, int, IntPtr>)OrtApi.Fn(OrtApi.SetSessionGraphOptimizationLevel))(options, (int)OptimizationLevel));
            if (Provider == ExecutionProvider.Cuda) AppendCuda(options);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return handle;
    }

    unsafe void AppendCuda(IntPtr options)
    {
        if (DeviceId != 0) throw new Shared.Errors.InvalidOptionException("choosing a CUDA device other than 0 is not supported yet");
        var cuda = IntPtr.Zero;
        try
        {
            OrtApi.Check(((delegate* unmanaged<IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateCudaProviderOptions))(&cuda));
            OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr, IntPtr>)OrtApi.Fn(OrtApi.SessionOptionsAppendExecutionProviderCudaV2))(options, cuda));
        }
        catch (OnnxRuntimeException e)
        {
            // Typically the provider library (libonnxruntime_providers_cuda.so) or CUDA itself is absent.
            throw new OnnxRuntimeException(e.Code,
                $"the CUDA execution provider is not available in this ONNX Runtime ({OrtApi.Version}; providers compiled in: {string.Join(", ", OrtApi.AvailableProviders())}): {e.Detail}");
        }
        finally
        {
            OrtApi.Release(OrtApi.ReleaseCudaProviderOptions, cuda);
        }
    }
}
