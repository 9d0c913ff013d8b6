using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;

namespace Pipeline.Training.Plots;

/// <summary>What <c>pipeline-train separation</c> draws: the joint templates, with a line between the sources' blocks.</summary>
public static class SeparationFigures
{
    /// <summary>Writes <c>W.png</c> into <paramref name="directory"/>; returns a warning when the picture could not be drawn.</summary>
    /// <param name="w">The templates (bins, K), the sources' blocks side by side.</param>
    public static string? Write(string directory, NdArray w, IReadOnlyList<SourceSpec> sources, FrontEndConfig stft) =>
        HeatMapFigure.Write(Path.Combine(directory, "W.png"), w,
            $"W, the templates ({string.Join(", ", sources.Select(s => s.Components == 1 ? $"{s.Name} {s.FirstComponent}" : $"{s.Name} {s.FirstComponent}–{s.FirstComponent + s.Components - 1}"))})",
            HeatMapAxis.Hertz(stft.SampleRate, stft.NFft), HeatMapAxis.Index("component"),
            groupColumns: sources.Select(s => s.Components).Distinct().Count() == 1 ? sources[0].Components : null); // a line between sources
}
