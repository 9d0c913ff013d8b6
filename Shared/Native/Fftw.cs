using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Pipeline.Shared.Native;

/// <summary>
/// The door to FFTW 3 (single precision): real-to-complex and complex-to-real plans, made once per size and
/// kept for the process. Planning is not thread-safe in FFTW, so it happens under a lock; executing a plan on
/// new arrays (<c>fftwf_execute_dft_r2c</c>) is, so transforms run in parallel freely. Plans are made with
/// FFTW_UNALIGNED, so any managed buffer may be passed.
/// </summary>
internal static unsafe partial class Fftw
{
    const uint Estimate = 1u << 6, Unaligned = 1u << 1, PreserveInput = 1u << 4;

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
            var real = new float[n];
            var complex = new float[2 * (n / 2 + 1)];
            fixed (float* r = real)
            fixed (float* c = complex)
                plan = forward ? PlanR2C(n, r, c, Estimate | Unaligned) : PlanC2R(n, c, r, Estimate | Unaligned | PreserveInput);
            if (plan == IntPtr.Zero) throw new InvalidOperationException($"FFTW could not plan a transform of size {n}");
            cache[n] = plan;
            return plan;
        }
    }

    /// <summary>The n/2 + 1 complex bins (interleaved re, im) of a real signal of length n; unnormalised.</summary>
    public static void RealForward(ReadOnlySpan<float> input, Span<float> output)
    {
        var n = input.Length;
        if (output.Length < 2 * (n / 2 + 1)) throw new ArgumentException("output too short for the spectrum");
        var plan = Plan(Forward, n, forward: true);
        fixed (float* i = input)
        fixed (float* o = output)
            ExecuteR2C(plan, i, o);
    }

    /// <summary>The real signal of length n from its n/2 + 1 bins; unnormalised (n times the inverse DFT).</summary>
    public static void RealInverse(ReadOnlySpan<float> input, Span<float> output)
    {
        var n = output.Length;
        if (input.Length < 2 * (n / 2 + 1)) throw new ArgumentException("input too short for the spectrum");
        var plan = Plan(Backward, n, forward: false);
        fixed (float* i = input)
        fixed (float* o = output)
            ExecuteC2R(plan, i, o);
    }
}
