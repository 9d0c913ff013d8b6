using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Scoring;

/// <summary>
/// <see cref="FrameScores.Aggregate"/> of the frame errors seen so far, kept up to date one frame at a time in
/// constant memory: after n frames <see cref="Score"/> is exactly what <c>FrameScores.Aggregate</c> gives for those
/// n errors (same trim rule, same summation order), so a stream's last value is the whole clip's score.
/// A "top-p%" aggregation keeps the errors it has counted (4 bytes a frame) and ranks them when asked.
/// </summary>
public sealed class RunningFrameScore
{
    readonly string aggregation;
    readonly int trim;
    readonly List<float> early = [];     // the first 2·trim + 1 errors: short clips keep their middle frames
    readonly Queue<float> tail = new();  // the last trim errors, which a longer clip's trim drops
    readonly List<float>? counted;       // for top-p%: every counted error
    double max = double.NegativeInfinity, sum;
    long kept;
    (long Count, double Score) cached = (-1, double.NaN);

    /// <exception cref="InvalidOptionException">An unknown aggregation or a negative trim.</exception>
    public RunningFrameScore(string aggregation, int trim)
    {
        if (!FrameScores.IsKnown(aggregation))
            throw new InvalidOptionException($"unknown aggregation '{aggregation}'; use {string.Join(", ", FrameScores.Aggregations)}");
        if (trim < 0) throw new InvalidOptionException($"trim must be ≥ 0, got {trim}");
        (this.aggregation, this.trim) = (aggregation, trim);
        if (FrameScores.TopFraction(aggregation) is not null) counted = [];
    }

    /// <summary>Frames added.</summary>
    public long Count { get; private set; }

    /// <summary>The aggregate of the frames so far; NaN before the first.</summary>
    public double Score => Count == 0 ? double.NaN
        : Count <= 2 * trim + 1 ? FrameScores.Aggregate(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(early), aggregation, trim)
        : aggregation == "max" ? max : counted is not null ? Top() : sum / kept;

    double Top()
    {
        if (cached.Count != Count) cached = (Count, FrameScores.Aggregate(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(counted), aggregation, 0));
        return cached.Score;
    }

    /// <summary>Adds the next frame's error.</summary>
    public void Add(float error)
    {
        if (early.Count < 2 * trim + 1) early.Add(error);
        tail.Enqueue(error);
        Count++;
        if (tail.Count <= trim) return;
        // the error trim frames back leaves the tail: counted unless it is one of the first trim
        var leaving = tail.Dequeue();
        if (Count - trim - 1 < trim) return;
        max = Math.Max(max, leaving);
        sum += leaving;
        kept++;
        counted?.Add(leaving);
    }
}
