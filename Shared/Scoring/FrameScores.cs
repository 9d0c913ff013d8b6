using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Scoring;

/// <summary>
/// Turning per-frame anomaly errors into one score per file, the same way in training and in inference.
/// The DCASE 2020 Task 2 baseline's rule: drop <c>trim</c> frames at each end (the mirrored context makes them unreliable), then take
/// the maximum (or the mean). A clip too short for its trim keeps its middle frame(s): the trim shrinks to
/// ⌊(frames − 1)/2⌋ so that at least one frame always counts.
/// </summary>
public static class FrameScores
{
    /// <summary>Aggregations understood by <see cref="Aggregate"/>.</summary>
    public static IReadOnlyList<string> Aggregations { get; } = ["max", "mean"];

    /// <summary>The trim actually applied to a clip of <paramref name="frames"/> frames.</summary>
    public static int EffectiveTrim(int frames, int trim) => Math.Max(0, Math.Min(trim, (frames - 1) / 2));

    /// <summary>The file score of <paramref name="frameErrors"/>.</summary>
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
                throw new InvalidOptionException($"unknown aggregation '{aggregation}'; use {string.Join(" or ", Aggregations)}");
        }
    }
}
