using Pipeline.Training.Anomaly;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>One detector's scores for a <see cref="RocChart"/>.</summary>
/// <param name="Name">The legend entry (the AUC is appended).</param>
/// <param name="Normal">Scores of normal clips.</param>
/// <param name="Anomalous">Scores of anomalous clips.</param>
/// <param name="Threshold">The detector's calibrated threshold, marked as its operating point (FPR, TPR), when given.</param>
public sealed record RocCurve(string Name, IReadOnlyList<double> Normal, IReadOnlyList<double> Anomalous, double? Threshold = null);

/// <summary>
/// ROC curves on the unit square: each detector's curve with its AUC, the chance diagonal, the pAUC region
/// (FPR ≤ p, shaded, and the area under the first curve there filled) and each calibrated threshold's operating point.
/// </summary>
public static class RocChart
{
    /// <summary>The chart; <paramref name="maxFpr"/> is the pAUC's p (DCASE uses 0.1).</summary>
    /// <exception cref="ArgumentException">A detector has no normal or no anomalous scores.</exception>
    public static Plot Draw(string title, IReadOnlyList<RocCurve> curves, double maxFpr = 0.1)
    {
        var plot = Figure.Create(title, "false-positive rate", "true-positive rate");
        var region = plot.Add.HorizontalSpan(0, maxFpr);
        region.FillStyle.Color = Figure.Palette[4].WithAlpha(0.12);
        region.LineStyle.Width = 0;
        region.LegendText = $"pAUC region (FPR ≤ {maxFpr:G3})";
        for (var i = 0; i < curves.Count; i++)
        {
            var c = curves[i];
            if (c.Normal.Count == 0 || c.Anomalous.Count == 0) throw new ArgumentException($"{c.Name}: a ROC curve needs normal and anomalous scores");
            var color = Figure.Palette[i % Figure.Palette.Length];
            var roc = DetectionMetrics.RocCurve(c.Normal, c.Anomalous);
            if (i == 0)
            {
                // the area the pAUC measures, under the first curve up to FPR = p (the curve interpolated there)
                var inside = roc.Where(p => p.Fpr <= maxFpr).ToList();
                var beyond = roc.FirstOrDefault(p => p.Fpr > maxFpr);
                if (inside.Count > 0 && beyond != default && inside[^1].Fpr < maxFpr)
                {
                    var last = inside[^1];
                    inside.Add((maxFpr, last.Tpr + (beyond.Tpr - last.Tpr) * (maxFpr - last.Fpr) / (beyond.Fpr - last.Fpr)));
                }
                if (inside.Count > 1)
                {
                    var fill = plot.Add.FillY(inside.Select(p => p.Fpr).ToArray(), inside.Select(p => p.Tpr).ToArray(), new double[inside.Count]);
                    fill.FillStyle.Color = color.WithAlpha(0.25);
                    fill.LineStyle.Width = 0;
                    fill.LegendText = $"pAUC {DetectionMetrics.PartialAuc(c.Normal, c.Anomalous, maxFpr):F3}";
                }
            }
            var line = plot.Add.Scatter(roc.Select(p => p.Fpr).ToArray(), roc.Select(p => p.Tpr).ToArray(), color);
            (line.LineWidth, line.MarkerSize) = (2, 0);
            line.LegendText = $"{c.Name} (AUC {DetectionMetrics.Auc(c.Normal, c.Anomalous):F3})";
            if (c.Threshold is { } threshold)
            {
                var fpr = (double)c.Normal.Count(s => s > threshold) / c.Normal.Count;
                var tpr = (double)c.Anomalous.Count(s => s > threshold) / c.Anomalous.Count;
                var point = plot.Add.Marker(fpr, tpr, MarkerShape.FilledCircle, 10, color);
                point.LegendText = $"threshold {threshold:G4} (FPR {fpr:F2}, TPR {tpr:F2})";
            }
        }
        var chance = plot.Add.Line(0, 0, 1, 1);
        (chance.LinePattern, chance.Color, chance.LegendText) = (LinePattern.Dashed, Figure.Reference, "chance");
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }
}
