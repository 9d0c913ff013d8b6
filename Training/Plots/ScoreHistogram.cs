using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// Histograms of the anomaly scores of normal and anomalous clips on shared bins, overlaid (translucent), with the
/// calibrated threshold as a vertical line.
/// </summary>
public static class ScoreHistogram
{
    /// <summary>The chart; about <paramref name="bins"/> equal bins over every score, one edge on the threshold.</summary>
    public static Plot Draw(string title, IReadOnlyList<double> normal, IReadOnlyList<double> anomalous, double? threshold = null, int bins = 30)
    {
        var plot = Figure.Create(title, "anomaly score", "clips");
        var values = normal.Concat(anomalous).Concat(threshold is { } t ? [t] : []).Where(double.IsFinite).ToList();
        if (values.Count > 0)
        {
            var (low, high) = (values.Min(), values.Max());
            if (high <= low) (low, high) = (low - 0.5, high + 0.5);
            var width = (high - low) / bins;
            // the threshold on a bin edge: every bar lies wholly on one side of the line
            if (threshold is { } edge && double.IsFinite(edge)) low = edge - Math.Ceiling((edge - low) / width - 1e-9) * width;
            var count = Math.Max(1, (int)Math.Floor((high - low) / width + 1e-9) + 1);
            foreach (var (name, scores, color) in new[] { ("normal", normal, Figure.Palette[0]), ("anomalous", anomalous, Figure.Palette[1]) })
            {
                if (scores.Count == 0) continue;
                var counts = new double[count];
                foreach (var score in scores.Where(double.IsFinite))
                    counts[Math.Clamp((int)Math.Floor((score - low) / width + 1e-9), 0, count - 1)]++; // a score on an edge counts in the bin above it
                var bars = plot.Add.Bars(Enumerable.Range(0, count).Select(i => low + (i + 0.5) * width).ToArray(), counts);
                bars.LegendText = $"{name} ({scores.Count})";
                foreach (var bar in bars.Bars) (bar.Size, bar.LineWidth, bar.FillColor) = (width, 0, color.WithAlpha(0.55));
            }
        }
        if (threshold is { } at && double.IsFinite(at))
        {
            var line = plot.Add.VerticalLine(at, 2, Color.FromHex("#333333"), LinePattern.Dashed);
            line.LegendText = $"threshold {at:G4}";
        }
        plot.Axes.Margins(bottom: 0);
        Figure.WholeNumberTicks(plot.Axes.Left); // clips
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
