using System.Runtime.InteropServices;
using Pipeline.Shared.Native;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// The ONNX Runtime C API: <c>OrtGetApiBase()</c> hands out a table of function pointers (<c>struct OrtApi</c>)
/// whose order is fixed by <c>onnxruntime_c_api.h</c> and only ever grows at its end. The slots below are the
/// entries' positions in that table; every call returning an <c>OrtStatus*</c> goes through <see cref="Check"/>,
/// the one place a native error becomes a .NET exception.
/// </summary>
internal static unsafe class OrtApi
{
    /// <summary>The oldest API version that has every entry used here (ONNX Runtime 1.17).</summary>
    public const uint ApiVersion = 17;

    // Positions in struct OrtApi.
    public const int GetErrorCode = 1, GetErrorMessage = 2, CreateEnv = 3, CreateSession = 7, CreateSessionFromArray = 8,
        Run = 9, CreateSessionOptions = 10, SetSessionGraphOptimizationLevel = 23, SetIntraOpNumThreads = 24,
        SetInterOpNumThreads = 25, SessionGetInputCount = 30, SessionGetOutputCount = 31,
        SessionGetOverridableInitializerCount = 32, SessionGetInputTypeInfo = 33, SessionGetOutputTypeInfo = 34,
        SessionGetOverridableInitializerTypeInfo = 35, SessionGetInputName = 36, SessionGetOutputName = 37,
        SessionGetOverridableInitializerName = 38, CreateTensorWithDataAsOrtValue = 49, GetTensorMutableData = 51,
        CastTypeInfoToTensorInfo = 55, GetOnnxTypeFromTypeInfo = 56, GetTensorElementType = 60, GetDimensionsCount = 61,
        GetDimensions = 62, GetSymbolicDimensions = 63, GetTensorTypeAndShape = 65, CreateCpuMemoryInfo = 69,
        AllocatorFree = 76, GetAllocatorWithDefaultOptions = 78, ReleaseEnv = 92, ReleaseStatus = 93,
        ReleaseMemoryInfo = 94, ReleaseSession = 95, ReleaseValue = 96, ReleaseTypeInfo = 98,
        ReleaseTensorTypeAndShapeInfo = 99, ReleaseSessionOptions = 100, SessionGetModelMetadata = 111,
        ModelMetadataLookupCustomMetadataMap = 116, ReleaseModelMetadata = 118,
        ModelMetadataGetCustomMetadataMapKeys = 123, GetAvailableProviders = 125, ReleaseAvailableProviders = 126,
        SessionOptionsAppendExecutionProviderCudaV2 = 204, CreateCudaProviderOptions = 205, ReleaseCudaProviderOptions = 208;

    static readonly Lazy<(IntPtr Table, string Version)> Loaded = new(Load);

    /// <summary>The function-pointer table.</summary>
    public static IntPtr* Table => (IntPtr*)Loaded.Value.Table;

    /// <summary>The version string of the loaded library, e.g. <c>1.30.0</c>.</summary>
    public static string Version => Loaded.Value.Version;

    /// <summary>The entry at <paramref name="slot"/>.</summary>
    public static IntPtr Fn(int slot) => Table[slot];

    static (IntPtr, string) Load()
    {
        var getApiBase = (delegate* unmanaged<IntPtr>)NativeLibraries.GetExport(NativeLibraries.OnnxRuntime, "OrtGetApiBase");
        var apiBase = (IntPtr*)getApiBase();
        var getApi = (delegate* unmanaged<uint, IntPtr>)apiBase[0];
        var getVersion = (delegate* unmanaged<IntPtr>)apiBase[1];
        var version = Marshal.PtrToStringUTF8(getVersion()) ?? "unknown";
        var table = getApi(ApiVersion);
        if (table == IntPtr.Zero)
            throw new Shared.Errors.NativeLibraryMissingException(
                $"{NativeLibraries.OnnxRuntime.FileName} is version {version}, which does not offer C API version {ApiVersion}; install ONNX Runtime 1.30 with: {NativeLibraries.OnnxRuntime.InstallCommand}");
        return (table, version);
    }

    /// <summary>Throws <see cref="OnnxRuntimeException"/> for a non-null status, releasing it.</summary>
    public static void Check(IntPtr status)
    {
        if (status == IntPtr.Zero) return;
        var code = ((delegate* unmanaged<IntPtr, int>)Fn(GetErrorCode))(status);
        var message = Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr, IntPtr>)Fn(GetErrorMessage))(status)) ?? "";
        ((delegate* unmanaged<IntPtr, void>)Fn(ReleaseStatus))(status);
        throw new OnnxRuntimeException((OrtErrorCode)code, message);
    }

    /// <summary>Calls a release entry (<c>void Release*(T*)</c>).</summary>
    public static void Release(int slot, IntPtr handle)
    {
        if (handle != IntPtr.Zero) ((delegate* unmanaged<IntPtr, void>)Fn(slot))(handle);
    }

    /// <summary>ONNX Runtime's default CPU allocator (owned by the library, never released).</summary>
    public static IntPtr DefaultAllocator
    {
        get
        {
            IntPtr allocator;
            Check(((delegate* unmanaged<IntPtr*, IntPtr>)Fn(GetAllocatorWithDefaultOptions))(&allocator));
            return allocator;
        }
    }

    /// <summary>Copies a UTF-8 string allocated by ONNX Runtime and frees it with the default allocator.</summary>
    public static string TakeString(IntPtr allocator, IntPtr text)
    {
        var result = Marshal.PtrToStringUTF8(text) ?? "";
        Free(allocator, text);
        return result;
    }

    /// <summary>Returns memory ONNX Runtime allocated for the caller.</summary>
    public static void Free(IntPtr allocator, IntPtr memory) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, IntPtr>)Fn(AllocatorFree))(allocator, memory));

    /// <summary>Execution providers compiled into the loaded library, e.g. <c>CPUExecutionProvider</c>.</summary>
    public static IReadOnlyList<string> AvailableProviders()
    {
        IntPtr* names;
        int count;
        Check(((delegate* unmanaged<IntPtr**, int*, IntPtr>)Fn(GetAvailableProviders))(&names, &count));
        var result = new List<string>(count);
        for (var i = 0; i < count; i++) result.Add(Marshal.PtrToStringUTF8(names[i]) ?? "");
        Check(((delegate* unmanaged<IntPtr*, int, IntPtr>)Fn(ReleaseAvailableProviders))(names, count));
        return result;
    }
}

/// <summary>ONNX Runtime's <c>OrtErrorCode</c>.</summary>
public enum OrtErrorCode
{
    Ok = 0, Fail = 1, InvalidArgument = 2, NoSuchFile = 3, NoModel = 4, EngineError = 5, RuntimeException = 6,
    InvalidProtobuf = 7, ModelLoaded = 8, NotImplemented = 9, InvalidGraph = 10, ExecutionProviderFail = 11,
}

/// <summary>An error reported by ONNX Runtime, with its code and message.</summary>
public sealed class OnnxRuntimeException(OrtErrorCode code, string message)
    : Shared.Errors.PipelineException($"ONNX Runtime: {message} ({code})")
{
    public OrtErrorCode Code { get; } = code;
    /// <summary>ONNX Runtime's message alone.</summary>
    public string Detail { get; } = message;
}
