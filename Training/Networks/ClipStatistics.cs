using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// A detector of whole-clip statistics: each clip is summarised by the mean, the standard deviation and the maximum of
/// every log-mel band over its frames (after the trim), and scored by how far that summary lies from its machine ID's
/// normal clips: the mean over the 3·B statistics of (s − μ_id)² / σ², μ_id each ID's mean summary and σ² the
/// within-ID variance of each statistic pooled over the IDs (a per-ID Gaussian with diagonal covariance; with tens of
/// clips per ID and hundreds of statistics a full covariance cannot be estimated).
/// </summary>
/// <remarks>
/// A frame model judges 0.2–0.6 s at a time and averages or maximises its errors; a fault that changes the machine a
/// little but for the whole clip (a speed drift, an imbalance, pulled harmonics) moves every frame by less than frames
/// differ among themselves, while it moves the clip's band means and spreads by many times their clip-to-clip spread.
/// The maximum keeps brief broadband events (clicks) in the summary. The frame curve (<see cref="FrameErrors"/>) is
/// each frame's mean squared deviation from its ID's band means in units of its ID's band spreads. Fitted in closed
/// form; the statistics live in buffers, so the module exports and saves as the networks do.
/// </remarks>
public sealed class ClipStatistics : nn.Module<Tensor, Tensor>
{
    /// <summary>Statistics per band: mean, standard deviation, maximum.</summary>
    public const int PerBand = 3;

    /// <summary>Values per frame (the front end's bands).</summary>
    public int Bands { get; }

    /// <summary>The machine IDs in row order ("id_00", ...; "all" for clips without one).</summary>
    public IReadOnlyList<string> MachineIds { get; }

    /// <summary>Frames dropped at each end of a clip before its statistics (<see cref="FrameScores.EffectiveTrim"/> for short clips).</summary>
    public int TrimFrames { get; }

#pragma warning disable IDE0044 // RegisterComponents registers fields by name
    Tensor means;      // (IDs, 3B) each ID's mean summary, float64
    Tensor variances;  // (3B) pooled within-ID variance of each statistic, floored, float64
#pragma warning restore IDE0044

    /// <summary>(IDs, 3·B): each ID's mean summary, bands' means first, then their spreads, then their maxima.</summary>
    public Tensor Means => means;

    /// <summary>(3·B): the pooled within-ID variance of each statistic.</summary>
    public Tensor Variances => variances;

    ClipStatistics(int bands, IReadOnlyList<string> machineIds, int trim, Tensor means, Tensor variances) : base(nameof(ClipStatistics))
    {
        (Bands, MachineIds, TrimFrames) = (bands, machineIds.ToArray(), trim);
        (this.means, this.variances) = (means.DetachFromDisposeScope(), variances.DetachFromDisposeScope());
        RegisterComponents();
    }

    /// <summary>
    /// Fits the statistics to normal training clips.
    /// </summary>
    /// <param name="clips">Per-frame features (frames, B) of each clip.</param>
    /// <param name="labels">Each clip's index into <paramref name="machineIds"/>.</param>
    /// <exception cref="InvalidInputException">No more clips than IDs (no within-ID spread), an ID without clips, or clips of different widths.</exception>
    public static ClipStatistics Fit(IReadOnlyList<NdArray> clips, IReadOnlyList<int> labels, IReadOnlyList<string> machineIds, int trim)
    {
        var k = machineIds.Count;
        if (clips.Count != labels.Count) throw new ArgumentException("one label per clip", nameof(labels));
        if (clips.Count <= k)
            throw new InvalidInputException($"clip statistics: the spread of normal clips needs more training clips than machine IDs (got {clips.Count} clip{(clips.Count == 1 ? "" : "s")} of {k} ID{(k == 1 ? "" : "s")}); add normal training clips");
        if (Enumerable.Range(0, k).FirstOrDefault(i => !labels.Contains(i), -1) is >= 0 and var empty)
            throw new InvalidInputException($"clip statistics: machine ID {machineIds[empty]} has no training clip");
        var bands = clips[0].Columns;
        if (clips.FirstOrDefault(c => c.Shape.Length != 2 || c.Columns != bands) is { } odd)
            throw new InvalidInputException($"clip statistics: clips of {bands} bands and of shape {odd.ShapeText}");
        using var scope = NewDisposeScope();
        var summaries = stack(clips.Select(c => Summary(tensor(c.Data, [c.Rows, bands], dtype: ScalarType.Float32), trim)).ToArray()); // (N, 3B)
        var onehot = nn.functional.one_hot(tensor(labels.Select(l => (long)l).ToArray()), k).to(ScalarType.Float64); // (N, K)
        var means = onehot.t().mm(summaries) / onehot.sum([0L]).unsqueeze(1);
        var residuals = summaries - onehot.mm(means);
        var variances = residuals.square().sum([0L]) / (clips.Count - k);
        // a statistic that never moves (a silent band) gets a variance at rounding level of the others'
        variances = variances.clamp_min(1e-6 * variances.mean().item<double>() + 1e-12);
        return new ClipStatistics(bands, machineIds, trim, means, variances);
    }

    /// <summary>
    /// The summary of one clip's frames (frames, B): each band's mean, standard deviation (population) and maximum over
    /// the frames left after the trim, as float64 (3·B).
    /// </summary>
    public static Tensor Summary(Tensor frames, int trim)
    {
        var count = (int)frames.shape[0];
        if (count == 0) throw new InvalidInputException("clip statistics: a clip without frames");
        var cut = FrameScores.EffectiveTrim(count, trim);
        using var kept = frames.narrow(0, cut, count - 2 * cut).to(ScalarType.Float64);
        using var mean = kept.mean([0L]);
        using var spread = (kept - mean).square().mean([0L]).sqrt();
        using var max = kept.amax([0L]);
        return cat([mean, spread, max]);
    }

    /// <summary>Frames (frames, B) → their summary (3·B), after the trim.</summary>
    public override Tensor forward(Tensor frames)
    {
        if (frames.dim() != 2 || frames.shape[1] != Bands)
            throw new InvalidInputException($"clip statistics: input of shape ({string.Join(", ", frames.shape)}); expected (frames, {Bands})");
        return Summary(frames, TrimFrames);
    }

    /// <summary>
    /// The clip's score: the mean over the statistics of (s − μ_id)² / σ² for ID <paramref name="machineIndex"/>; an
    /// index equal to the ID count means an ID not seen in training, scored against the nearest known ID.
    /// </summary>
    public double ClipError(NdArray frames, int machineIndex)
    {
        using var scope = NewDisposeScope();
        var summary = forward(tensor(frames.Data, [frames.Rows, frames.Columns]));
        var distances = (summary.unsqueeze(0) - means).square().div(variances).mean([1L]); // (IDs)
        return Pick(distances, machineIndex, 0).item<double>();
    }

    /// <summary>
    /// Each frame's mean over the bands of ((x − m_id) / s_id)², m_id and s_id its ID's mean band levels and spreads
    /// (frames); an unseen ID (index = ID count): the nearest known ID per frame.
    /// </summary>
    public float[] FrameErrors(NdArray frames, int machineIndex)
    {
        if (frames.Shape.Length != 2 || frames.Columns != Bands)
            throw new InvalidInputException($"clip statistics: input of shape {frames.ShapeText}; expected (frames, {Bands})");
        using var scope = NewDisposeScope();
        var x = tensor(frames.Data, [frames.Rows, frames.Columns], dtype: ScalarType.Float64);
        var (levels, spreads) = FrameReference();
        var errors = ((x.unsqueeze(1) - levels) / spreads).square().mean([2L]); // (frames, IDs)
        return Pick(errors, machineIndex, 1).to(ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>Each ID's band means (IDs, B) and band spreads floored at 1e-3 of their mean (IDs, B), for the frame curve.</summary>
    public (Tensor Levels, Tensor Spreads) FrameReference()
    {
        var levels = means.narrow(1, 0, Bands);
        var spreads = means.narrow(1, Bands, Bands);
        return (levels, spreads.clamp_min(1e-3 * spreads.mean().item<double>() + 1e-6));
    }

    // values along the ID axis: the given ID's, or the smallest for an index past the last ID
    static Tensor Pick(Tensor values, int machineIndex, int axis)
    {
        var ids = values.shape[axis];
        if (machineIndex < 0 || machineIndex > ids) throw new ArgumentOutOfRangeException(nameof(machineIndex));
        return machineIndex == ids ? values.amin([axis]) : values.select(axis, machineIndex);
    }
}
