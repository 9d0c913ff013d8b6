using Microsoft.ML.OnnxRuntime;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// Creates a session on the device <see cref="RuntimeOptions.Device"/> asks for. CUDA is tried when asked for or
/// on <see cref="Device.Auto"/>; when its provider cannot load (not in this ONNX Runtime build, or its CUDA
/// libraries or driver missing), <c>cuda</c> is an error naming what is missing and <c>auto</c> falls back to the
/// CPU, keeping the reason.
/// </summary>
static class ProviderChoice
{
    public const string Cpu = "CPUExecutionProvider", Cuda = "CUDAExecutionProvider";

    public sealed record Opened(InferenceSession Session, string Provider, string? CudaUnavailable);

    public static Opened Open(RuntimeOptions options, Func<SessionOptions, InferenceSession> create, string what)
    {
        options.Validate();
        // Ours (with its logging) must be the process's environment: the first SessionOptions would make a default one.
        _ = OnnxRuntimeEnvironment.Instance;
        string? cudaProblem = null;
        if (options.Device != Device.Cpu)
        {
            var opened = TryCuda(options, create, what, out cudaProblem);
            if (opened is not null) return opened;
            if (options.Device == Device.Cuda)
                throw new DeviceUnavailableException($"--device cuda: {cudaProblem}; use --device cpu, or auto to fall back to the CPU");
        }
        using var cpu = Options(options);
        return new Opened(Create(cpu, create, what), Cpu, cudaProblem);
    }

    static Opened? TryCuda(RuntimeOptions options, Func<SessionOptions, InferenceSession> create, string what, out string? problem)
    {
        var providers = OnnxRuntimeEnvironment.AvailableProviders;
        if (!providers.Contains(Cuda))
        {
            problem = $"this ONNX Runtime ({OnnxRuntimeEnvironment.Version}, providers: {string.Join(", ", providers)}) has no CUDA provider; " +
                      "the host's GPU flavour has it (./run setup --gpu)";
            return null;
        }
        using var cuda = Options(options);
        var logged = new List<string>();
        try
        {
            OnnxRuntimeEnvironment.Capture(logged, () => { cuda.AppendExecutionProvider_CUDA(options.DeviceId); return 0; });
        }
        catch (OnnxRuntimeException e)
        {
            problem = $"CUDA cannot be used on this machine: {MissingPart(e, logged)}";
            return null;
        }
        try
        {
            // The provider loaded; a missing driver or device shows only now, as would a model it cannot run.
            problem = null;
            return new Opened(OnnxRuntimeEnvironment.Capture(logged, () => create(cuda)), Cuda, null);
        }
        catch (OnnxRuntimeException e) when (options.Device == Device.Auto)
        {
            problem = $"CUDA cannot run {what}: {ModelRuntimeException.Split(e.Message).Detail}";
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            throw ModelRuntimeException.From(e, $"{what} on CUDA");
        }
    }

    /// <summary>
    /// ONNX Runtime's exception says only "Failed to load shared library"; what is missing is in the line it logged
    /// just before (".../libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file ...").
    /// </summary>
    static string MissingPart(OnnxRuntimeException e, List<string> logged)
    {
        const string marker = "with error: ";
        foreach (var line in Enumerable.Reverse(logged))
            if (line.IndexOf(marker, StringComparison.Ordinal) is var at and >= 0) return line[(at + marker.Length)..].Trim();
        return ModelRuntimeException.Split(e.Message).Detail;
    }

    static InferenceSession Create(SessionOptions options, Func<SessionOptions, InferenceSession> create, string what)
    {
        try { return create(options); }
        catch (OnnxRuntimeException e) { throw ModelRuntimeException.From(e, what); }
    }

    static SessionOptions Options(RuntimeOptions options) => new()
    {
        IntraOpNumThreads = options.IntraOpThreads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = options.OptimizationLevel,
        EnableCpuMemArena = options.CpuMemoryArena,
    };
}
