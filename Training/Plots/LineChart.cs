using System.Globalization;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>One series of a <see cref="LineChart"/>: points joined by a line, or a cloud of dots.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="Points">(x, y) pairs; non-finite ones are left out.</param>
/// <param name="Dashed">A dashed line (a reference, a validation curve).</param>
/// <param name="Dots">Dots without a line (a scatter).</param>
/// <param name="RightAxis">On a y-axis of its own at the right, labelled with its name (a term far smaller than the others).</param>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false, bool Dots = false, bool RightAxis = false)
{
    /// <summary>Values against 1, 2, 3, ...: a loss per epoch or iteration.</summary>
    public static Series PerStep(string name, IEnumerable<double> values, bool dashed = false) =>
        new(name, values.Select((v, i) => (i + 1.0, v)).ToList(), dashed);
}

/// <summary>
/// Lines and scatters on linear axes (loss curves, a coefficient over time, two coefficients against each other),
/// with a legend. Loss curves that span two decades or more get a logarithmic y-axis, labelled in the values
/// themselves, so the late epochs are not a flat line along the bottom.
/// </summary>
public static class LineChart
{
    /// <summary>
    /// The chart. <paramref name="logY"/>: true or false forces the y-axis; null picks a log axis when every y is
    /// positive and the largest is 100× the smallest or more.
    /// </summary>
    public static Plot Draw(string title, string xLabel, string yLabel, IEnumerable<Series> series, bool? logY = null)
    {
        var all = series.Select(s => s with { Points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList() }).ToList();
        var ys = all.Where(s => !s.RightAxis).SelectMany(s => s.Points.Select(p => p.Y)).ToList();
        var log = logY ?? (ys.Count > 1 && ys.Min() > 0 && ys.Max() / ys.Min() >= 100);
        if (log && ys.Any(y => y <= 0)) log = false; // a log axis cannot show them
        var plot = Figure.Create(title, xLabel, log ? $"{yLabel} (log scale)" : yLabel);
        for (var i = 0; i < all.Count; i++)
        {
            var s = all[i];
            var color = Figure.Palette[i % Figure.Palette.Length];
            var x = s.Points.Select(p => p.X).ToArray();
            var y = s.Points.Select(p => log ? Math.Log10(p.Y) : p.Y).ToArray();
            var line = plot.Add.Scatter(x, y, color);
            line.LegendText = s.Name;
            if (s.Dots) (line.LineWidth, line.MarkerSize, line.MarkerShape) = (0, 3, MarkerShape.FilledCircle);
            else if (x.Length == 1) (line.LineWidth, line.MarkerSize) = (0, 6); // one point: a dot (a dashed one-point path makes Skia complain on stderr)
            else (line.LineWidth, line.MarkerSize) = (2, 0);
            if (s.Dashed && x.Length > 1) line.LinePattern = LinePattern.Dashed;
            if (s.RightAxis)
            {
                line.Axes.YAxis = plot.Axes.Right;
                plot.Axes.Right.Label.Text = s.Name;
                plot.Axes.Right.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = Figure.TickLabel };
            }
        }
        if (!log) Figure.SteadyLimits(plot, ys);
        if (all.Count > 0 && all.All(s => s.Points.All(p => p.X == Math.Round(p.X)))) Figure.WholeNumberTicks(plot.Axes.Bottom); // epochs, iterations
        if (log)
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = e => Math.Pow(10, e).ToString("G4", CultureInfo.InvariantCulture),
            };
        if (all.Count(s => s.Name.Length > 0) > 1) plot.ShowLegend(Edge.Right);
        else plot.HideLegend(); // one series: the title says what it is
        return plot;
    }
}
