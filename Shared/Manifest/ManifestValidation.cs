using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;

namespace Pipeline.Shared.Manifest;

/// <summary>
/// The one check of a manifest's values, run whenever one is read (<see cref="ModelFolder.FromJson"/>): by
/// <c>info</c> and by every consumer alike, so that a folder <c>info</c> passes is one the scorers can use.
/// Whether the graphs agree with it is checked when they are loaded.
/// </summary>
public static class ManifestValidation
{
    /// <summary>Highest sample rate a front end may name (the highest rates audio files use are 768 kHz).</summary>
    public const int MaxSampleRate = 768_000;
    /// <summary>Largest FFT a front end may name: 2²⁰ points.</summary>
    public const int MaxNFft = 1 << 20;

    /// <summary>Every problem of <paramref name="manifest"/> at once.</summary>
    /// <exception cref="ModelContractException">A value is out of range; the message lists them all.</exception>
    public static void Validate(ModelManifest manifest, string source)
    {
        var problems = new List<string>();
        foreach (var graph in manifest.Graphs)
        {
            if (string.IsNullOrWhiteSpace(graph.Role) || string.IsNullOrWhiteSpace(graph.File)) problems.Add("a graph without a role or file");
            else if (graph.File != Path.GetFileName(graph.File) || graph.File is "." or "..") problems.Add($"graph file '{graph.File}' is not a plain file name in the folder");
        }
        if (manifest.FrontEnd is { } frontEnd)
        {
            try { frontEnd.Validate(); }
            catch (InvalidOptionException e) { problems.Add(e.Message); }
            if (frontEnd.SampleRate > MaxSampleRate) problems.Add($"front end: sample rate {frontEnd.SampleRate} Hz is above {MaxSampleRate} Hz");
            if (frontEnd.NFft > MaxNFft) problems.Add($"front end: n_fft {frontEnd.NFft} is above {MaxNFft}");
            if (problems.Count == 0 && frontEnd.Feature is Audio.FeatureKind.Mel or Audio.FeatureKind.LogMel or Audio.FeatureKind.Mfcc)
            {
                // n_fft 3 gives 2 bins: no mel band holds one, and every feature would be the log floor
                var bank = new Audio.MelFilterBank(frontEnd.SampleRate, frontEnd.NFft, frontEnd.NMels, frontEnd.FMin, frontEnd.FMax, frontEnd.MelScale, frontEnd.SlaneyNorm);
                if (bank.EmptyBands.Count == bank.Count) problems.Add($"front end: all {bank.Count} mel bands are empty at n_fft {frontEnd.NFft} ({frontEnd.NFft / 2 + 1} frequency bins)");
            }
        }
        if (manifest.Decomposition is { } d)
        {
            if (d.Features < 1) problems.Add($"decomposition: features must be ≥ 1 (got {d.Features})");
            if (d.Rank < 1) problems.Add($"decomposition: rank must be ≥ 1 (got {d.Rank})");
            if (!double.IsFinite(d.Beta)) problems.Add($"decomposition: β must be finite (got {d.Beta})");
            if (!(d.Epsilon > 0) || !double.IsFinite(d.Epsilon)) problems.Add($"decomposition: ε must be positive (got {d.Epsilon})");
            if (d.DefaultIterations < 0) problems.Add($"decomposition: default iterations must be ≥ 0 (got {d.DefaultIterations})");
        }
        if (manifest.Anomaly is { } a)
        {
            if (!FrameScores.Aggregations.Contains(a.Aggregation)) problems.Add($"anomaly: unknown aggregation '{a.Aggregation}' (use {string.Join(" or ", FrameScores.Aggregations)})");
            if (a.TrimFrames < 0) problems.Add($"anomaly: trim must be ≥ 0 frames (got {a.TrimFrames})");
            if (!double.IsFinite(a.Threshold)) problems.Add($"anomaly: the threshold must be finite (got {a.Threshold})");
        }
        foreach (var s in manifest.Sources ?? [])
            if (s.FirstComponent < 0 || s.Components < 1 || (manifest.Decomposition is { } dec && s.FirstComponent + s.Components > dec.Rank))
                problems.Add($"source '{s.Name}': components {s.FirstComponent}..{s.FirstComponent + s.Components - 1} lie outside the model's");
        if (problems.Count > 0) throw new ModelContractException($"{source}: invalid manifest: {string.Join("; ", problems)}");
    }
}
