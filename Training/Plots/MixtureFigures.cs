using Pipeline.Shared.Arrays;
using Pipeline.Training.Mixtures;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// The pictures of a mixture fitted to one-dimensional data: the fitted density over the data's histogram (with the
/// true density when it is known), and the fit's convergence as an animated PNG, one ScottPlot frame per recorded step.
/// </summary>
public static class MixtureFigures
{
    /// <summary>Frames an animation keeps at most (evenly spaced, the last always in): enough to see the fit move.</summary>
    public const int MaxFrames = 60;

    /// <summary>
    /// Writes a fit's pictures into <paramref name="directory"/>: the mean log-likelihood per step
    /// (<c>loglikelihood.svg</c>/<c>.png</c>) and, for one-dimensional data with snapshots, the fitted density
    /// (<c>density.svg</c>/<c>.png</c>) and its convergence (<c>convergence.png</c>, animated).
    /// </summary>
    public static void Write(string directory, IReadOnlyList<double> meanLogLikelihood, string stepName, GaussianMixture mixture, NdArray data,
        IReadOnlyList<GaussianMixture> snapshots)
    {
        Figure.WriteChart(LineChart.Draw("Mean log-likelihood per step", stepName, "mean log-likelihood", [Series.PerStep("training data", meanLogLikelihood)], logY: false),
            Path.Combine(directory, "loglikelihood.svg"));
        if (mixture.Dimensions != 1 || snapshots.Count == 0) return;
        Figure.WriteChart(Density(mixture, data), Path.Combine(directory, "density.svg"));
        Shared.Files.AtomicFile.WriteAllBytes(Path.Combine(directory, "convergence.png"), ConvergenceAnimation(snapshots, data));
    }

    /// <summary>The histogram (as a density), the fitted density and, when given, the true one.</summary>
    public static Plot Density(GaussianMixture mixture, NdArray data, Func<double, double>? trueDensity = null, string title = "Fitted density and the data")
    {
        var (edges, heights) = Histogram(data, 40);
        var grid = Grid(edges);
        return Frame(title, edges, heights, grid, DensityAt(mixture, grid), trueDensity, top: null);
    }

    /// <summary>
    /// One frame per snapshot (at most <see cref="MaxFrames"/>): the histogram, the true density (when given) and the
    /// snapshot's density, on fixed axes so the curve's movement is what changes.
    /// </summary>
    /// <exception cref="Shared.Errors.InvalidInputException">No snapshots.</exception>
    public static byte[] ConvergenceAnimation(IReadOnlyList<GaussianMixture> snapshots, NdArray data, Func<double, double>? trueDensity = null,
        int width = 560, int height = 340, int frameMilliseconds = 120)
    {
        var (edges, heights) = Histogram(data, 40);
        var grid = Grid(edges);
        var kept = snapshots.Count <= MaxFrames ? Enumerable.Range(0, snapshots.Count).ToList()
            : Enumerable.Range(0, MaxFrames).Select(i => (int)Math.Round((double)i * (snapshots.Count - 1) / (MaxFrames - 1))).Distinct().ToList();
        var curves = kept.Select(i => DensityAt(snapshots[i], grid)).ToList();
        var top = Math.Max(heights.DefaultIfEmpty(0).Max(), curves.SelectMany(c => c).Where(double.IsFinite).DefaultIfEmpty(0).Max()) * 1.1;
        var frames = kept.Select((step, i) => Figure.Png(Frame($"Fitted density, step {step + 1} of {snapshots.Count}", edges, heights, grid, curves[i], trueDensity, top), width, height)).ToList();
        return AnimatedPng.Assemble(frames, frameMilliseconds);
    }

    static Plot Frame(string title, double[] edges, double[] heights, double[] grid, double[] fitted, Func<double, double>? trueDensity, double? top)
    {
        var plot = Figure.Create(title, "x", "density");
        var bars = plot.Add.Bars(edges.Take(heights.Length).Select((e, i) => (e + edges[i + 1]) / 2).ToArray(), heights);
        bars.LegendText = "data (histogram)";
        foreach (var bar in bars.Bars) (bar.Size, bar.LineWidth, bar.FillColor) = (edges[1] - edges[0], 0, Figure.Reference.WithAlpha(0.45));
        var curve = plot.Add.Scatter(grid, fitted, Figure.Palette[0]);
        (curve.LineWidth, curve.MarkerSize, curve.LegendText) = (2, 0, "fitted mixture");
        if (trueDensity is not null)
        {
            var truth = plot.Add.Scatter(grid, grid.Select(trueDensity).ToArray(), Figure.Palette[2]);
            (truth.LineWidth, truth.MarkerSize, truth.LinePattern, truth.LegendText) = (2, 0, LinePattern.Dashed, "true density");
        }
        if (top is { } limit && limit > 0) plot.Axes.SetLimits(edges[0], edges[^1], 0, limit);
        else plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    static (double[] Edges, double[] Heights) Histogram(NdArray data, int bins)
    {
        var values = data.Data.Where(float.IsFinite).Select(v => (double)v).ToList();
        var (low, high) = values.Count == 0 ? (0.0, 1.0) : (values.Min(), values.Max());
        if (high <= low) (low, high) = (low - 0.5, high + 0.5);
        var width = (high - low) / bins;
        var edges = Enumerable.Range(0, bins + 1).Select(i => low + i * width).ToArray();
        var heights = new double[bins];
        foreach (var v in values) heights[Math.Clamp((int)((v - low) / width), 0, bins - 1)] += 1.0 / (values.Count * width);
        return (edges, heights);
    }

    static double[] Grid(double[] edges) => Enumerable.Range(0, 200).Select(i => edges[0] + (edges[^1] - edges[0]) * i / 199).ToArray();

    static double[] DensityAt(GaussianMixture mixture, double[] grid) =>
        mixture.ScoreSamples(new NdArray([grid.Length, 1], grid.Select(v => (float)v).ToArray())).Select(Math.Exp).ToArray();
}
