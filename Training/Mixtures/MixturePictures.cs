using Pipeline.Shared.Arrays;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Mixtures;

/// <summary>
/// The pictures of a 1-D mixture fitted by gradient: the fitted density over the data's histogram (with the true density
/// when it is known), as SVG, and the fit's convergence as an animated PNG, one frame per recorded step.
/// </summary>
public static class MixturePictures
{
    /// <summary>The histogram (as a density), the fitted density and, when given, the true one.</summary>
    public static SvgChart Density(GaussianMixture mixture, NdArray data, Func<double, double>? trueDensity = null)
    {
        var (edges, heights) = Histogram(data, 40);
        var grid = Grid(edges);
        var chart = new SvgChart("Fitted density and the data", "x", "density");
        chart.Line("data (histogram)", Steps(edges, heights), "#999999");
        chart.Line("fitted mixture", grid.Zip(Density(mixture, grid)).ToList());
        if (trueDensity is not null) chart.Line("true density", grid.Select(x => (x, trueDensity(x))).ToList(), dashed: true);
        return chart;
    }

    /// <summary>
    /// One frame per snapshot: the histogram in grey, the true density (when given) in green, the snapshot's
    /// density in blue, on fixed axes so the curve's movement is what changes.
    /// </summary>
    public static byte[] ConvergenceAnimation(IReadOnlyList<GaussianMixture> snapshots, NdArray data, Func<double, double>? trueDensity = null,
        int width = 480, int height = 300, int frameMilliseconds = 120)
    {
        var (edges, heights) = Histogram(data, 40);
        var grid = Grid(edges);
        var curves = snapshots.Select(s => Density(s, grid)).ToList();
        var top = Math.Max(heights.Max(), curves.SelectMany(c => c).Where(double.IsFinite).DefaultIfEmpty(0).Max()) * 1.1;
        double X(double v) => 20 + (v - edges[0]) / (edges[^1] - edges[0]) * (width - 40);
        double Y(double v) => height - 20 - Math.Min(v, top) / top * (height - 40);
        var frames = new List<PngImage>();
        var grey = PngImage.Color("#cccccc");
        var blue = PngImage.Color("#0072B2");
        var green = PngImage.Color("#009E73");
        var axis = PngImage.Color("#333333");
        foreach (var curve in curves)
        {
            var image = new PngImage(width, height);
            for (var i = 0; i < heights.Length; i++)
                image.FillRectangle((int)X(edges[i]), (int)Y(heights[i]), (int)X(edges[i + 1]) - 1, (int)Y(0), grey);
            image.DrawLine(X(edges[0]), Y(0), X(edges[^1]), Y(0), axis, 1);
            if (trueDensity is not null)
                for (var i = 1; i < grid.Length; i++) image.DrawLine(X(grid[i - 1]), Y(trueDensity(grid[i - 1])), X(grid[i]), Y(trueDensity(grid[i])), green);
            for (var i = 1; i < grid.Length; i++) image.DrawLine(X(grid[i - 1]), Y(curve[i - 1]), X(grid[i]), Y(curve[i]), blue);
            frames.Add(image);
        }
        return PngImage.EncodeAnimation(frames, frameMilliseconds);
    }

    static (double[] Edges, double[] Heights) Histogram(NdArray data, int bins)
    {
        var values = data.Data.Select(v => (double)v).ToList();
        var edges = SvgChart.Bins(values, bins);
        var width = edges[1] - edges[0];
        var heights = new double[bins];
        foreach (var v in values) heights[Math.Clamp((int)((v - edges[0]) / width), 0, bins - 1)] += 1.0 / (values.Count * width);
        return (edges, heights);
    }

    static double[] Grid(double[] edges) => Enumerable.Range(0, 200).Select(i => edges[0] + (edges[^1] - edges[0]) * i / 199).ToArray();

    static double[] Density(GaussianMixture mixture, double[] grid) =>
        mixture.ScoreSamples(new NdArray([grid.Length, 1], grid.Select(v => (float)v).ToArray())).Select(Math.Exp).ToArray();

    static List<(double, double)> Steps(double[] edges, double[] heights) =>
        heights.SelectMany((h, i) => new[] { (edges[i], h), (edges[i + 1], h) }).ToList();
}
