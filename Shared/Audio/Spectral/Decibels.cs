using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Decibel conversions exactly as librosa defines them.</summary>
public static class Decibels
{
    /// <summary>
    /// 10·log10(max(amin, S)) − 10·log10(max(amin, ref)); with <paramref name="topDb"/>, values below
    /// (maximum − topDb) are raised to it (librosa's <c>power_to_db</c>, defaults ref 1, amin 1e-10, top_db 80).
    /// </summary>
    public static NdArray PowerToDb(NdArray power, double reference = 1.0, double amin = 1e-10, double? topDb = 80.0)
    {
        if (!(amin > 0)) throw new InvalidOptionException($"amin must be positive, got {amin}");
        if (topDb is { } t && t < 0) throw new InvalidOptionException($"top_db must be non-negative, got {t}");
        var offset = 10 * Math.Log10(Math.Max(amin, Math.Abs(reference)));
        var result = new float[power.Data.Length];
        var max = double.NegativeInfinity;
        for (var i = 0; i < result.Length; i++)
        {
            var db = 10 * Math.Log10(Math.Max(amin, power.Data[i])) - offset;
            result[i] = (float)db;
            max = Math.Max(max, db);
        }
        if (topDb is { } top)
        {
            var floor = (float)(max - top);
            for (var i = 0; i < result.Length; i++) result[i] = Math.Max(result[i], floor);
        }
        return new NdArray((int[])power.Shape.Clone(), result);
    }

    /// <summary><see cref="PowerToDb"/> of S² with ref² and amin² (librosa's <c>amplitude_to_db</c>, amin 1e-5).</summary>
    public static NdArray AmplitudeToDb(NdArray amplitude, double reference = 1.0, double amin = 1e-5, double? topDb = 80.0)
    {
        var squared = new float[amplitude.Data.Length];
        for (var i = 0; i < squared.Length; i++) squared[i] = amplitude.Data[i] * amplitude.Data[i];
        return PowerToDb(new NdArray((int[])amplitude.Shape.Clone(), squared), reference * reference, amin * amin, topDb);
    }
}
