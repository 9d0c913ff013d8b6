using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Pipeline.Training.Native;

/// <summary>
/// Picks OpenBLAS's kernels from the instruction sets the CPU reports instead of its model number. OpenBLAS's
/// DYNAMIC_ARCH build chooses a core by CPU model, and a virtual machine that hides the model (it reads
/// "Intel(R) Xeon(R) Processor") gets the SSE3 "Prescott" kernels: measured on such a 2-core AVX-512 VM, 40
/// GFLOP/s sgemm against 240 GFLOP/s with the SkylakeX kernels. OpenBLAS reads <c>OPENBLAS_CORETYPE</c> once,
/// when it is loaded, so this sets it in the native environment just before; a value the user set is kept.
/// </summary>
public static class OpenBlasCore
{
    public const string Variable = "OPENBLAS_CORETYPE";

    /// <summary>The core OpenBLAS should use on this CPU, or null to leave its own detection alone.</summary>
    public static string? ForThisCpu() =>
        Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported ? "SkylakeX"
        : Avx2.IsSupported && Fma.IsSupported ? "Haswell"
        : null;

    /// <summary>Sets <c>OPENBLAS_CORETYPE</c> for the native loader unless it is set already or no better core applies.</summary>
    internal static void Choose()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)) || ForThisCpu() is not { } core) return;
        // .NET keeps its own copy of the environment on Unix; OpenBLAS reads the C library's, so set it there too.
        Environment.SetEnvironmentVariable(Variable, core);
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc) ||
            !NativeLibrary.TryGetExport(libc, "setenv", out var setenv)) return;
        var name = Marshal.StringToCoTaskMemUTF8(Variable);
        var value = Marshal.StringToCoTaskMemUTF8(core);
        try
        {
            unsafe { ((delegate* unmanaged<IntPtr, IntPtr, int, int>)setenv)(name, value, 0); }
        }
        finally
        {
            Marshal.FreeCoTaskMem(name);
            Marshal.FreeCoTaskMem(value);
        }
    }
}
