using System.Runtime.InteropServices;

namespace Pipeline.Shared.Native;

/// <summary>The door to libsoxr: one-shot resampling of float32 samples at a chosen quality.</summary>
internal static unsafe partial class Soxr
{
    /// <summary>SOXR_HQ: the "high quality" recipe that librosa's default resampler (soxr_hq) uses.</summary>
    public const uint HighQuality = 4;
    /// <summary>SOXR_VHQ.</summary>
    public const uint VeryHighQuality = 6;

    [StructLayout(LayoutKind.Sequential)]
    public struct QualitySpec
    {
        public double Precision, PhaseResponse, PassbandEnd, StopbandBegin;
        public IntPtr Reserved;
        public nuint Flags;
    }

    [LibraryImport("soxr", EntryPoint = "soxr_quality_spec")]
    public static partial QualitySpec Quality(nuint recipe, nuint flags);

    [LibraryImport("soxr", EntryPoint = "soxr_oneshot")]
    public static partial IntPtr OneShot(double inputRate, double outputRate, uint channels,
        float* input, nuint inputLength, nuint* inputDone, float* output, nuint outputLength, nuint* outputDone,
        IntPtr ioSpec, QualitySpec* qualitySpec, IntPtr runtimeSpec);
}
