using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Pipeline.Shared.Native;

/// <summary>
/// The door to FFTW 3 (single precision): real-to-complex and complex-to-real plans, made once per size and
/// kept for the process. Planning is not thread-safe in FFTW, so it happens under a lock; executing a plan on
/// new arrays (<c>fftwf_execute_dft_r2c</c>) is, so transforms run in parallel freely. Plans are made on
/// 64-byte-aligned arrays and every transform runs on this thread's aligned scratch: FFTW's SIMD codelets need
/// aligned data, and a plan made with FFTW_UNALIGNED (so that any managed buffer could be passed) runs without
/// them, at a third of the speed or less.
/// </summary>
internal static unsafe partial class Fftw
{
    const uint Estimate = 1u << 6, PreserveInput = 1u << 4;
    const int Alignment = 64, AlignmentFloats = Alignment / sizeof(float);

    [LibraryImport("fftw3f", EntryPoint = "fftwf_plan_dft_r2c_1d")]
    private static partial IntPtr PlanR2C(int n, float* input, float* output, uint flags);

    [LibraryImport("fftw3f", EntryPoint = "fftwf_plan_dft_c2r_1d")]
    private static partial IntPtr PlanC2R(int n, float* input, float* output, uint flags);

    [LibraryImport("fftw3f", EntryPoint = "fftwf_execute_dft_r2c")]
    private static partial void ExecuteR2C(IntPtr plan, float* input, float* output);

    [LibraryImport("fftw3f", EntryPoint = "fftwf_execute_dft_c2r")]
    private static partial void ExecuteC2R(IntPtr plan, float* input, float* output);

    static readonly ConcurrentDictionary<int, IntPtr> Forward = new(), Backward = new();
    static readonly Lock Planner = new();

    static IntPtr Plan(ConcurrentDictionary<int, IntPtr> cache, int n, bool forward)
    {
        if (cache.TryGetValue(n, out var plan)) return plan;
        lock (Planner)
        {
            if (cache.TryGetValue(n, out plan)) return plan;
            var r = (float*)NativeMemory.AlignedAlloc((nuint)(Rounded(n) * sizeof(float)), Alignment);
            var c = (float*)NativeMemory.AlignedAlloc((nuint)(Bins(n) * sizeof(float)), Alignment);
            try
            {
                plan = forward ? PlanR2C(n, r, c, Estimate) : PlanC2R(n, c, r, Estimate | PreserveInput);
            }
            finally
            {
                NativeMemory.AlignedFree(r);
                NativeMemory.AlignedFree(c);
            }
            if (plan == IntPtr.Zero) throw new InvalidOperationException($"FFTW could not plan a transform of size {n}");
            cache[n] = plan;
            return plan;
        }
    }

    /// <summary>The n/2 + 1 complex bins (interleaved re, im) of a real signal of length n; unnormalised.</summary>
    public static void RealForward(ReadOnlySpan<float> input, Span<float> output)
    {
        var n = input.Length;
        if (output.Length < Bins(n)) throw new ArgumentException("output too short for the spectrum");
        var plan = Plan(Forward, n, forward: true);
        var real = Scratch(Rounded(n) + Bins(n));
        var complex = real + Rounded(n);
        input.CopyTo(new Span<float>(real, n));
        ExecuteR2C(plan, real, complex);
        new ReadOnlySpan<float>(complex, Bins(n)).CopyTo(output);
    }

    /// <summary>The real signal of length n from its n/2 + 1 bins; unnormalised (n times the inverse DFT).</summary>
    public static void RealInverse(ReadOnlySpan<float> input, Span<float> output)
    {
        var n = output.Length;
        if (input.Length < Bins(n)) throw new ArgumentException("input too short for the spectrum");
        var plan = Plan(Backward, n, forward: false);
        var complex = Scratch(Rounded(Bins(n)) + n);
        var real = complex + Rounded(Bins(n));
        input[..Bins(n)].CopyTo(new Span<float>(complex, Bins(n)));
        ExecuteC2R(plan, complex, real);
        new ReadOnlySpan<float>(real, n).CopyTo(output);
    }

    /// <summary>Floats in the spectrum of a real signal of length n: n/2 + 1 complex bins.</summary>
    static int Bins(int n) => 2 * (n / 2 + 1);

    /// <summary>n rounded up to whole 64-byte lines, so that a second array after it starts aligned too.</summary>
    static int Rounded(int n) => (n + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;

    [ThreadStatic] static float[]? scratch;

    /// <summary>A 64-byte-aligned region of this thread's scratch, pinned for the array's life, at least <paramref name="floats"/> long.</summary>
    static float* Scratch(int floats)
    {
        if (scratch is null || scratch.Length < floats + AlignmentFloats)
            scratch = GC.AllocateUninitializedArray<float>(floats + AlignmentFloats, pinned: true);
        var start = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(scratch));
        return (float*)((start + Alignment - 1) & ~(nint)(Alignment - 1));
    }
}
