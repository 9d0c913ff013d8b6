using Pipeline.Shared.Scoring;

namespace Pipeline.Inference.Anomaly;

/// <summary>
/// The notes a verdict carries about the signal scored: clipping, silence, and a trim shortened for a short clip. One
/// tally for a whole clip (<see cref="AnomalyScorer.Score"/>) and for a stream fed chunk by chunk (<see cref="AnomalyStream"/>),
/// so that both say the same of the same audio.
/// </summary>
sealed class SignalNotes
{
    long clipped, samples;
    bool silent = true;

    /// <summary>Counts the next samples (mono, at the model's rate).</summary>
    public void Add(ReadOnlySpan<float> chunk)
    {
        foreach (var s in chunk)
        {
            if (Math.Abs(s) >= 0.999f) clipped++;
            if (s != 0) silent = false;
        }
        samples += chunk.Length;
    }

    /// <summary>The notes for a signal of <paramref name="frames"/> scored frames and a manifest trim of <paramref name="trimFrames"/>.</summary>
    public List<string> Notes(long frames, int trimFrames)
    {
        var notes = new List<string>();
        if (clipped > samples / 1000) notes.Add($"clipping: {100.0 * clipped / samples:F1} % of samples at full scale");
        if (silent) notes.Add("silent");
        var trim = FrameScores.EffectiveTrim((int)Math.Min(int.MaxValue, frames), trimFrames);
        if (trim < trimFrames) notes.Add($"short clip: {frames} frames, trim reduced from {trimFrames} to {trim}");
        return notes;
    }
}
