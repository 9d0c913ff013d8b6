using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// Histograms of the anomaly scores of normal and anomalous clips on shared bins, overlaid (translucent), with the
/// calibrated threshold as a vertical line.
/// </summary>
public static class ScoreHistogram
{
    /// <summary>The chart; <paramref name="bins"/> equal bins over every score and the threshold.</summary>
    public static Plot Draw(string title, IReadOnlyList<double> normal, IReadOnlyList<double> anomalous, double? threshold = null, int bins = 30)
    {
        var plot = Figure.Create(title, "anomaly score", "clips");
        var values = normal.Concat(anomalous).Concat(threshold is { } t ? [t] : []).Where(double.IsFinite).ToList();
        if (values.Count > 0)
        {
            var (low, high) = (values.Min(), values.Max());
            if (high <= low) (low, high) = (low - 0.5, high + 0.5);
            foreach (var (name, scores, color) in new[] { ("normal", normal, Figure.Palette[0]), ("anomalous", anomalous, Figure.Palette[1]) })
            {
                if (scores.Count == 0) continue;
                var histogram = ScottPlot.Statistics.Histogram.WithBinCount(bins, low, high + (high - low) * 1e-9);
                histogram.AddRange(scores.Where(double.IsFinite));
                // ScottPlot's Bins are the bins' lower edges; a bar is placed by its centre
                var bars = plot.Add.Bars(histogram.Bins.Select(edge => edge + histogram.FirstBinSize / 2).ToArray(), histogram.Counts);
                bars.LegendText = $"{name} ({scores.Count})";
                foreach (var bar in bars.Bars) (bar.Size, bar.LineWidth, bar.FillColor) = (histogram.FirstBinSize, 0, color.WithAlpha(0.55));
            }
        }
        if (threshold is { } at && double.IsFinite(at))
        {
            var line = plot.Add.VerticalLine(at, 2, Color.FromHex("#333333"), LinePattern.Dashed);
            line.LegendText = $"threshold {at:G4}";
        }
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }
}
