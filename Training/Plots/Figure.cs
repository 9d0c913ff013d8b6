using System.Diagnostics;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// What every figure shares: the house style (a sans-serif face, the Okabe-Ito colour-blind-safe palette, white
/// background), rendering through ScottPlot (SkiaSharp underneath) and writing atomically. Rendering is
/// deterministic: the same figure gives the same bytes on the same machine.
/// </summary>
public static partial class Figure
{
    /// <summary>The default size in pixels of a chart or a heat map.</summary>
    public const int DefaultWidth = 800, DefaultHeight = 450;

    /// <summary>The Okabe-Ito palette, used in order by every chart with several series.</summary>
    public static readonly Color[] Palette =
        [Color.FromHex("#0072B2"), Color.FromHex("#D55E00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"), Color.FromHex("#E69F00"), Color.FromHex("#56B4E9")];

    /// <summary>Grey, for references (chance lines, data histograms).</summary>
    public static readonly Color Reference = Color.FromHex("#888888");

    const string Face = "DejaVu Sans";
    static long renderTicks;

    /// <summary>Wall time this process has spent rendering and encoding figures (what the pictures cost a job).</summary>
    public static TimeSpan TimeSpent => TimeSpan.FromTicks(Interlocked.Read(ref renderTicks));

    /// <summary>An empty plot in the house style with a title and axis labels.</summary>
    public static Plot Create(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(Face);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = TickLabel };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = TickLabel };
        return plot;
    }

    /// <summary>
    /// A tick label with the precision its value needs: 1505.5 beside 1506 (not "1,506" twice), 2E-14 (not "0").
    /// Seven significant digits, a float's worth.
    /// </summary>
    public static string TickLabel(double value) =>
        Math.Abs(value) < 1e-300 ? "0" : value.ToString("G7", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Ticks on <paramref name="axis"/> only at whole numbers: for counts (epochs, clips).</summary>
    public static void WholeNumberTicks(ScottPlot.IAxis axis) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = TickLabel, IntegerTicksOnly = true };

    /// <summary>
    /// Labels 0, 1, ... at the centres of <paramref name="cells"/> unit cells on <paramref name="axis"/> (cell i spans
    /// [i, i + 1)), every 1, 2, 5, 10, 20, ... cells so that about ten are shown.
    /// </summary>
    public static void CellTicks(ScottPlot.IAxis axis, int cells)
    {
        var step = 1;
        for (var k = 0; cells / step > 10; k++) step = (k % 3) switch { 0 => step * 2, 1 => step * 5 / 2, _ => step * 2 };
        var indices = Enumerable.Range(0, (cells + step - 1) / step).Select(i => i * step).ToArray();
        axis.SetTicks([.. indices.Select(i => i + 0.5)], [.. indices.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
    }

    /// <summary>
    /// Keeps a near-constant series readable: when <paramref name="values"/> vary by less than a millionth of their
    /// size, the y-axis spans ±0.1 % around them (ticks a float's seven digits can tell apart) rather than the noise.
    /// </summary>
    public static void SteadyLimits(Plot plot, IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return;
        var (low, high) = (values.Min(), values.Max());
        var middle = (low + high) / 2;
        var size = Math.Max(Math.Abs(low), Math.Abs(high));
        if (high - low > 1e-6 * size && high - low > 1e-300) return;
        var pad = size > 0 ? 1e-3 * size : 1.0;
        plot.Axes.SetLimitsY(middle - pad, middle + pad);
    }

    /// <summary>The plot as PNG bytes of <paramref name="width"/> × <paramref name="height"/> pixels.</summary>
    /// <exception cref="InvalidOptionException">A size is outside [1, 16384].</exception>
    public static byte[] Png(Plot plot, int width = DefaultWidth, int height = DefaultHeight)
    {
        (width, height) = (CheckSize(width), CheckSize(height));
        return Timed(() => plot.GetImageBytes(width, height, ImageFormat.Png));
    }

    /// <summary>The plot as an SVG document of <paramref name="width"/> × <paramref name="height"/> pixels.</summary>
    /// <exception cref="InvalidOptionException">A size is outside [1, 16384].</exception>
    public static string Svg(Plot plot, int width = DefaultWidth, int height = DefaultHeight)
    {
        (width, height) = (CheckSize(width), CheckSize(height));
        return Timed(() => NumberClipsFromOne(plot.GetSvgXml(width, height)));
    }

    /// <summary>Writes the plot as a PNG at <paramref name="path"/> (atomically: whole or not at all).</summary>
    public static void WritePng(Plot plot, string path, int width = DefaultWidth, int height = DefaultHeight) =>
        AtomicFile.WriteAllBytes(path, Png(plot, width, height));

    /// <summary>
    /// Writes a chart twice, side by side: <c>name.svg</c> (vector, sharp at any zoom: what reports embed) and
    /// <c>name.png</c> (for viewers and tools that read only raster images). <paramref name="path"/> names either.
    /// </summary>
    public static void WriteChart(Plot plot, string path, int width = DefaultWidth, int height = DefaultHeight)
    {
        var stem = Path.ChangeExtension(path, null);
        AtomicFile.WriteAllText(stem + ".svg", Svg(plot, width, height));
        WritePng(plot, stem + ".png", width, height);
    }

    // ScottPlot names clip paths from a process-wide counter ("cl_17"): renumbered in order of appearance, the same
    // figure is the same bytes however many were drawn before it
    static string NumberClipsFromOne(string svg)
    {
        var names = new Dictionary<string, string>();
        return ClipName().Replace(svg, m => names.TryGetValue(m.Value, out var name) ? name : names[m.Value] = $"cl_{names.Count + 1}");
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\bcl_[0-9A-Za-z]+\b")]
    private static partial System.Text.RegularExpressions.Regex ClipName();

    static int CheckSize(int pixels) =>
        pixels is >= 1 and <= 16384 ? pixels : throw new InvalidOptionException($"a picture's width and height must lie in [1, 16384] pixels (got {pixels})");

    static T Timed<T>(Func<T> render)
    {
        var clock = Stopwatch.StartNew();
        try { return render(); }
        finally { Interlocked.Add(ref renderTicks, clock.Elapsed.Ticks); }
    }
}
