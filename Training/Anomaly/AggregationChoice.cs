using Pipeline.Shared.Arrays;
using Pipeline.Shared.Scoring;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// Chooses how a detector's frame errors become a file score from normal data alone: no test clip, no real anomaly.
/// Each validation normal clip is copied twice with a synthetic fault mixed into its log-mel features (a brief
/// broadband burst, and a steady tone in one band, each as loud as the band's mean level), and each candidate
/// aggregation is rated by how far it moves the copies' scores from the normals', in units of the normals' own
/// spread: d′ = (mean log s_faulty − mean log s_normal) / sd(log s_normal), averaged over the two faults. The
/// candidate with the largest d′ wins. The faults stand for the two ways a real one can hide, in a few frames or in
/// a few bands; they are not the test set's kinds.
/// </summary>
public static class AggregationChoice
{
    /// <summary>The aggregations compared, from the steadiest to the most local.</summary>
    public static IReadOnlyList<string> Candidates { get; } = ["mean", FrameScores.Top(50), FrameScores.Top(10), FrameScores.Top(5), FrameScores.Top(1), "max"];

    /// <summary>Frames of the burst: 30 ms at the baseline's 10 ms hop, about a click's extent after the STFT's window.</summary>
    public const int BurstFrames = 3;

    /// <summary>The copy of per-frame log-mel features (frames, bands; in dB) with a burst across every band in <see cref="BurstFrames"/> frames from <paramref name="start"/>.</summary>
    public static NdArray WithBurst(NdArray features, int start)
    {
        var (frames, bands) = (features.Rows, features.Columns);
        var level = BandMeans(features);
        var data = (float[])features.Data.Clone();
        for (var t = Math.Clamp(start, 0, Math.Max(0, frames - BurstFrames)); t < Math.Min(frames, start + BurstFrames); t++)
            for (var b = 0; b < bands; b++) data[t * bands + b] = Mix(data[t * bands + b], level[b]);
        return new NdArray([frames, bands], data);
    }

    /// <summary>The copy of per-frame log-mel features with a steady tone in band <paramref name="band"/> over every frame.</summary>
    public static NdArray WithTone(NdArray features, int band)
    {
        var (frames, bands) = (features.Rows, features.Columns);
        var level = BandMeans(features)[band];
        var data = (float[])features.Data.Clone();
        for (var t = 0; t < frames; t++) data[t * bands + band] = Mix(data[t * bands + band], level);
        return new NdArray([frames, bands], data);
    }

    // power sum of two levels in dB
    static float Mix(float a, double b) => (float)(Math.Max(a, b) + 10 * Math.Log10(1 + Math.Pow(10, -Math.Abs(a - b) / 10)));

    static double[] BandMeans(NdArray features)
    {
        var (frames, bands) = (features.Rows, features.Columns);
        var mean = new double[bands];
        for (var t = 0; t < frames; t++)
            for (var b = 0; b < bands; b++) mean[b] += features.Data[t * bands + b];
        for (var b = 0; b < bands; b++) mean[b] /= frames;
        return mean;
    }

    /// <summary>One candidate's rating: its d′ for the burst and for the tone.</summary>
    public sealed record Rating(string Aggregation, double Burst, double Tone)
    {
        /// <summary>The mean of the two.</summary>
        public double Separation => (Burst + Tone) / 2;
    }

    /// <summary>
    /// Rates every candidate on frame errors of normal clips and of their faulty copies, and returns the best (the first
    /// of equals) and all ratings; no aggregation (null) when none separates, every d′ ≤ 0 (the faults did not raise
    /// the detector's errors, as with a network trained too briefly: a choice among them would be a choice of noise).
    /// Needs two or more normal clips (a spread).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two normal clips, or lists of different lengths.</exception>
    public static (string? Aggregation, IReadOnlyList<Rating> Ratings) Choose(IReadOnlyList<float[]> normal, IReadOnlyList<float[]> burst, IReadOnlyList<float[]> tone, int trim)
    {
        if (normal.Count < 2) throw new ArgumentException("choosing an aggregation needs two or more normal clips", nameof(normal));
        if (burst.Count != normal.Count || tone.Count != normal.Count) throw new ArgumentException("one faulty copy of each kind per normal clip", nameof(burst));
        var ratings = Candidates.Select(a =>
        {
            double[] Logs(IReadOnlyList<float[]> clips) => clips.Select(e => Math.Log(Math.Max(FrameScores.Aggregate(e, a, trim), 1e-30))).ToArray();
            var reference = Logs(normal);
            var mean = reference.Average();
            var sd = Math.Sqrt(reference.Sum(v => (v - mean) * (v - mean)) / (reference.Length - 1));
            sd = Math.Max(sd, 1e-6 * Math.Max(1, Math.Abs(mean))); // identical normal scores: a spread at rounding level
            return new Rating(a, (Logs(burst).Average() - mean) / sd, (Logs(tone).Average() - mean) / sd);
        }).ToList();
        var best = ratings.Aggregate((x, y) => y.Separation > x.Separation ? y : x);
        return (best.Separation > 0 ? best.Aggregation : null, ratings);
    }
}
