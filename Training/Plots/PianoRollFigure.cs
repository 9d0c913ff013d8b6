using Pipeline.Shared.Arrays;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// A piano roll (pitches × frames, non-zero where a note sounds), pitches bottom to top on a time axis: grey where
/// the truth sounds; with a detected roll, green for hits, orange for misses and blue for false alarms.
/// </summary>
public static class PianoRollFigure
{
    /// <summary>The colours: sounding (truth alone), hit, missed, false alarm.</summary>
    public static readonly Color Sounding = Color.FromHex("#5A5A5A"), Hit = Color.FromHex("#009E73"), Missed = Color.FromHex("#E69F00"), FalseAlarm = Color.FromHex("#0072B2");

    /// <summary>
    /// The figure; <paramref name="pitchNames"/> label the rows (bottom first), <paramref name="secondsPerFrame"/>
    /// puts the time axis in seconds (frames when null).
    /// </summary>
    /// <exception cref="ArgumentException">The rolls differ in shape, or the names in count.</exception>
    public static Plot Draw(string title, NdArray truth, NdArray? detected = null, IReadOnlyList<string>? pitchNames = null, double? secondsPerFrame = null)
    {
        var (pitches, frames) = (truth.Rows, truth.Columns);
        if (detected is not null && !detected.Shape.SequenceEqual(truth.Shape)) throw new ArgumentException($"the detected roll is ({detected.ShapeText}), the truth ({truth.ShapeText})");
        if (pitchNames is not null && pitchNames.Count != pitches) throw new ArgumentException($"{pitchNames.Count} pitch names for {pitches} rows");
        var step = secondsPerFrame ?? 1.0;
        var plot = Figure.Create(title, secondsPerFrame is null ? "frame" : "time (s)", "pitch");
        Color? Cell(int p, int t)
        {
            var (sounds, found) = (truth.Data[p * frames + t] != 0, detected is not null && detected.Data[p * frames + t] != 0);
            return detected is null ? (sounds ? Sounding : null) : sounds && found ? Hit : sounds ? Missed : found ? FalseAlarm : null;
        }
        for (var p = 0; p < pitches; p++)
            for (var t = 0; t < frames;)
            {
                var color = Cell(p, t);
                var end = t + 1;
                while (end < frames && Cell(p, end) == color) end++; // one rectangle per run of equal cells
                if (color is { } c)
                {
                    var box = plot.Add.Rectangle(t * step, end * step, p - 0.4, p + 0.4);
                    (box.FillColor, box.LineWidth) = (c, 0);
                }
                t = end;
            }
        plot.Axes.Left.SetTicks(Enumerable.Range(0, pitches).Select(p => (double)p).ToArray(),
            Enumerable.Range(0, pitches).Select(p => pitchNames?[p] ?? p.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.SetLimits(0, frames * step, -0.5, pitches - 0.5);
        var legend = detected is null ? [("sounding", Sounding)] : new[] { ("hit", Hit), ("missed", Missed), ("false alarm", FalseAlarm) };
        foreach (var (name, color) in legend) plot.Legend.ManualItems.Add(new LegendItem { LabelText = name, FillColor = color });
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
