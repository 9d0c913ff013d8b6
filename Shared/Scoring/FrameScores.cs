using System.Globalization;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Scoring;

/// <summary>
/// Turning per-frame anomaly errors into one score per file, the same way in training and in inference.
/// The DCASE 2020 Task 2 baseline's rule: drop <c>trim</c> frames at each end (the mirrored context makes them unreliable), then take
/// the maximum (or the mean). A clip too short for its trim keeps its middle frame(s): the trim shrinks to
/// ⌊(frames − 1)/2⌋ so that at least one frame always counts.
/// "top-p%" is the mean of the highest p % of the kept frames (at least one): a brief event moves it as the maximum
/// does, while the average over several frames is steadier than the single loudest one.
/// </summary>
public static class FrameScores
{
    /// <summary>Aggregations understood by <see cref="Aggregate"/>, as a user reads them ("top-p%" stands for any p in (0, 100]).</summary>
    public static IReadOnlyList<string> Aggregations { get; } = ["max", "mean", "top-p% (0 < p ≤ 100)"];

    /// <summary>
    /// The scoring rule of a detector of whole-clip statistics: the score is the graph's own <c>clip_error</c> output,
    /// computed from every frame of the clip at once (trim included), not an aggregation of frame errors.
    /// </summary>
    public const string Clip = "clip";

    /// <summary>Whether <see cref="Aggregate"/> understands <paramref name="aggregation"/> (<see cref="Clip"/> is a graph's rule, not one of these).</summary>
    public static bool IsKnown(string? aggregation) => aggregation is "max" or "mean" || TopFraction(aggregation) is not null;

    /// <summary>The fraction p/100 of a "top-p%" aggregation, or null for any other text.</summary>
    public static double? TopFraction(string? aggregation)
    {
        if (aggregation is null || !aggregation.StartsWith("top-", StringComparison.Ordinal) || !aggregation.EndsWith('%')) return null;
        return double.TryParse(aggregation.AsSpan(4, aggregation.Length - 5), NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p > 0 && p <= 100
            ? p / 100 : null;
    }

    /// <summary>The name of the mean of the top <paramref name="percent"/> % of frames: "top-10%".</summary>
    public static string Top(double percent) => $"top-{percent.ToString("R", CultureInfo.InvariantCulture)}%";

    /// <summary>The trim actually applied to a clip of <paramref name="frames"/> frames.</summary>
    public static int EffectiveTrim(int frames, int trim) => Math.Max(0, Math.Min(trim, (frames - 1) / 2));

    /// <summary>Frames the mean of a top fraction takes out of <paramref name="kept"/>: ⌈fraction · kept⌉, at least one.</summary>
    public static int TopCount(double fraction, int kept) => Math.Clamp((int)Math.Ceiling(fraction * kept - 1e-9), 1, kept);

    /// <summary>The file score of <paramref name="frameErrors"/>.</summary>
    /// <exception cref="InvalidInputException">No frames.</exception>
    /// <exception cref="InvalidOptionException">An unknown aggregation or a negative trim.</exception>
    public static double Aggregate(ReadOnlySpan<float> frameErrors, string aggregation, int trim)
    {
        if (frameErrors.Length == 0) throw new InvalidInputException("no frames to score");
        if (trim < 0) throw new InvalidOptionException($"trim must be ≥ 0, got {trim}");
        var cut = EffectiveTrim(frameErrors.Length, trim);
        var kept = frameErrors[cut..^cut];
        switch (aggregation)
        {
            case "max":
                var max = double.NegativeInfinity;
                foreach (var e in kept) max = Math.Max(max, e);
                return max;
            case "mean":
                double sum = 0;
                foreach (var e in kept) sum += e;
                return sum / kept.Length;
            default:
                var fraction = TopFraction(aggregation) ?? throw new InvalidOptionException($"unknown aggregation '{aggregation}'; use {string.Join(", ", Aggregations)}");
                var sorted = kept.ToArray();
                // NaN sorts first in .NET: it would hide below the top; a score with NaN frames is NaN, as for max and mean
                if (Array.Exists(sorted, float.IsNaN)) return double.NaN;
                Array.Sort(sorted);
                var count = TopCount(fraction, sorted.Length);
                double top = 0;
                for (var i = sorted.Length - count; i < sorted.Length; i++) top += sorted[i];
                return top / count;
        }
    }
}
