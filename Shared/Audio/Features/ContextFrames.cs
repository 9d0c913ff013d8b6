using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// The DCASE 2020 Task 2 baseline's context stacking: features (frames, dims) are extended by <c>before</c> frames mirrored at the start
/// and <c>after</c> mirrored at the end (the edge frame repeated: x[before−1], …, x[0], x[0], …), and row t of the
/// result is the flattened window of frames t … t + before + after − 1 of that padded sequence, so there is one
/// row per input frame. With before = after = 10 and 64 mel bands each row has 20 × 64 = 1280 values.
/// </summary>
public static class ContextFrames
{
    /// <summary>(frames, dims) → (frames, (before + after) · dims).</summary>
    public static NdArray Stack(NdArray features, int before = 10, int after = 10)
    {
        if (features.Shape.Length != 2) throw new InvalidInputException($"context stacking needs (frames, dims), got {features.ShapeText}");
        int frames = features.Rows, dims = features.Columns, width = before + after;
        if (before < 0 || after < 0 || width < 1) throw new InvalidOptionException($"context sizes must be ≥ 0 and not both 0 (got {before}, {after})");
        if (before > frames || after > frames)
            throw new InvalidInputException($"{frames} frames are fewer than the mirrored context ({before} before, {after} after)");
        if ((long)frames * width * dims > Array.MaxLength)
            throw new InvalidInputException($"{frames} frames with {width} context frames of {dims} values are more than one array holds; cut the clip into shorter ones");
        var result = new float[frames * width * dims];
        for (var t = 0; t < frames; t++) CopyRow(features, t, before, after, result.AsSpan(t * width * dims, width * dims));
        return new NdArray([frames, width * dims], result);
    }

    /// <summary>
    /// Row <paramref name="t"/> of <see cref="Stack"/> written into <paramref name="destination"/> ((before + after) · dims
    /// values) without building the whole matrix: trainers gather mini-batches this way from per-frame features.
    /// </summary>
    public static void CopyRow(NdArray features, int t, int before, int after, Span<float> destination)
    {
        int frames = features.Rows, dims = features.Columns;
        for (var j = 0; j < before + after; j++)
        {
            var source = (int)Mirrored(t + j - before, frames);
            features.Data.AsSpan(source * dims, dims).CopyTo(destination.Slice(j * dims, dims));
        }
    }

    /// <summary>The frame that position <paramref name="p"/> of the padded sequence reads (the edge frame repeated, then mirrored).</summary>
    public static long Mirrored(long p, long frames) => p < 0 ? -1 - p : p >= frames ? 2 * frames - 1 - p : p;
}
