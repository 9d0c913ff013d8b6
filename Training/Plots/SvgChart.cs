using System.Globalization;
using System.Net;
using System.Text;
using Pipeline.Shared.Files;

namespace Pipeline.Training.Plots;

/// <summary>
/// A small SVG chart: lines, histogram bars and marked points on linear axes with "nice" ticks, axis labels,
/// a title and a legend. Enough for loss curves, ROC curves and score histograms that a person can read,
/// self-contained (no scripts, no external fonts), so reports embed them as they are.
/// </summary>
public sealed class SvgChart(string title, string xLabel, string yLabel, int width = 640, int height = 400)
{
    /// <summary>Colour-blind-safe defaults, used in order.</summary>
    public static readonly string[] Palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

    abstract record Series(string Name, string Color);
    sealed record LineSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed) : Series(Name, Color);
    sealed record BarSeries(string Name, string Color, double[] Edges, double[] Counts) : Series(Name, Color);
    sealed record PointSeries(string Name, string Color, double X, double Y) : Series(Name, Color);
    sealed record ScatterSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points) : Series(Name, Color);

    readonly List<Series> series = [];
    (double Min, double Max)? xRange, yRange;

    string NextColor() => Palette[series.Count % Palette.Length];

    /// <summary>Adds a polyline.</summary>
    public SvgChart Line(string name, IReadOnlyList<(double X, double Y)> points, string? color = null, bool dashed = false)
    {
        series.Add(new LineSeries(name, color ?? NextColor(), points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList(), dashed));
        return this;
    }

    /// <summary>Adds a histogram of <paramref name="values"/> over the shared bin <paramref name="edges"/>.</summary>
    public SvgChart Histogram(string name, IReadOnlyList<double> values, double[] edges, string? color = null)
    {
        var counts = new double[edges.Length - 1];
        foreach (var v in values)
        {
            var bin = Array.BinarySearch(edges, v);
            if (bin < 0) bin = ~bin - 1;
            counts[Math.Clamp(bin, 0, counts.Length - 1)]++;
        }
        series.Add(new BarSeries(name, color ?? NextColor(), edges, counts));
        return this;
    }

    /// <summary>Marks one point with a labelled dot.</summary>
    public SvgChart Point(string name, double x, double y, string? color = null)
    {
        series.Add(new PointSeries(name, color ?? NextColor(), x, y));
        return this;
    }

    /// <summary>Adds a cloud of small dots.</summary>
    public SvgChart Scatter(string name, IReadOnlyList<(double X, double Y)> points, string? color = null)
    {
        series.Add(new ScatterSeries(name, color ?? NextColor(), points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList()));
        return this;
    }

    /// <summary>Fixes the x range (otherwise taken from the data).</summary>
    public SvgChart XRange(double min, double max) { xRange = (min, max); return this; }

    /// <summary>Fixes the y range (otherwise taken from the data, from 0 for histograms).</summary>
    public SvgChart YRange(double min, double max) { yRange = (min, max); return this; }

    /// <summary>Evenly spaced bin edges over the values' range.</summary>
    public static double[] Bins(IEnumerable<double> values, int count)
    {
        var list = values.Where(double.IsFinite).ToList();
        double lo = list.Count > 0 ? list.Min() : 0, hi = list.Count > 0 ? list.Max() : 1;
        if (hi <= lo) hi = lo + 1;
        return Enumerable.Range(0, count + 1).Select(i => lo + (hi - lo) * i / count).ToArray();
    }

    /// <summary>The SVG document.</summary>
    public string Render()
    {
        const int left = 70, right = 20, top = 40, bottom = 55;
        double plotW = width - left - right, plotH = height - top - bottom;
        var (x0, x1) = xRange ?? Extent(s => s switch
        {
            LineSeries l => l.Points.Select(p => p.X),
            BarSeries b => b.Edges,
            PointSeries p => [p.X],
            ScatterSeries c => c.Points.Select(p => p.X),
            _ => [],
        });
        var (y0, y1) = yRange ?? Extent(s => s switch
        {
            LineSeries l => l.Points.Select(p => p.Y),
            BarSeries b => b.Counts.Append(0),
            PointSeries p => [p.Y],
            ScatterSeries c => c.Points.Select(p => p.Y),
            _ => [],
        });
        double X(double v) => left + (v - x0) / (x1 - x0) * plotW;
        double Y(double v) => top + plotH - (v - y0) / (y1 - y0) * plotH;
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.Append(Invariant($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"));
        svg.Append(Invariant($"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>"));
        foreach (var t in Ticks(x0, x1))
        {
            svg.Append(Invariant($"<line x1=\"{X(t):F1}\" y1=\"{top}\" x2=\"{X(t):F1}\" y2=\"{top + plotH}\" stroke=\"#e5e5e5\"/>"));
            svg.Append(Invariant($"<text x=\"{X(t):F1}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\">{Label(t)}</text>"));
        }
        foreach (var t in Ticks(y0, y1))
        {
            svg.Append(Invariant($"<line x1=\"{left}\" y1=\"{Y(t):F1}\" x2=\"{left + plotW}\" y2=\"{Y(t):F1}\" stroke=\"#e5e5e5\"/>"));
            svg.Append(Invariant($"<text x=\"{left - 6}\" y=\"{Y(t) + 4:F1}\" text-anchor=\"end\">{Label(t)}</text>"));
        }
        svg.Append(Invariant($"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#333\"/>"));
        svg.Append(Invariant($"<text x=\"{left + plotW / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>"));
        svg.Append(Invariant($"<text transform=\"translate(16 {top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>"));
        svg.Append(Invariant($"<g clip-path=\"url(#plot)\"><clipPath id=\"plot\"><rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\"/></clipPath>"));
        foreach (var s in series)
            switch (s)
            {
                case BarSeries b:
                    for (var i = 0; i < b.Counts.Length; i++)
                        if (b.Counts[i] > 0)
                            svg.Append(Invariant($"<rect x=\"{X(b.Edges[i]):F1}\" y=\"{Y(b.Counts[i]):F1}\" width=\"{Math.Max(0.5, X(b.Edges[i + 1]) - X(b.Edges[i])):F1}\" height=\"{Y(0) - Y(b.Counts[i]):F1}\" fill=\"{b.Color}\" fill-opacity=\"0.55\" stroke=\"{b.Color}\"/>"));
                    break;
                case LineSeries l when l.Points.Count > 0:
                    var path = string.Join(" ", l.Points.Select(p => Invariant($"{X(p.X):F1},{Y(p.Y):F1}")));
                    svg.Append(Invariant($"<polyline points=\"{path}\" fill=\"none\" stroke=\"{l.Color}\" stroke-width=\"2\"{(l.Dashed ? " stroke-dasharray=\"6 4\"" : "")}/>"));
                    break;
                case PointSeries p:
                    svg.Append(Invariant($"<circle cx=\"{X(p.X):F1}\" cy=\"{Y(p.Y):F1}\" r=\"5\" fill=\"{p.Color}\"/>"));
                    break;
                case ScatterSeries c:
                    foreach (var (px, py) in c.Points)
                        svg.Append(Invariant($"<circle cx=\"{X(px):F1}\" cy=\"{Y(py):F1}\" r=\"1.8\" fill=\"{c.Color}\" fill-opacity=\"0.6\"/>"));
                    break;
            }
        svg.Append("</g>");
        var row = 0;
        foreach (var s in series.Where(s => s.Name.Length > 0))
        {
            double lx = left + plotW - 190, ly = top + 12 + 18 * row++;
            svg.Append(Invariant($"<rect x=\"{lx}\" y=\"{ly - 9}\" width=\"14\" height=\"10\" fill=\"{s.Color}\"/>"));
            svg.Append(Invariant($"<text x=\"{lx + 20}\" y=\"{ly}\">{Escape(s.Name)}</text>"));
        }
        svg.Append("</svg>");
        return svg.ToString();

        (double, double) Extent(Func<Series, IEnumerable<double>> values)
        {
            var all = series.SelectMany(values).Where(double.IsFinite).ToList();
            if (all.Count == 0) return (0, 1);
            double lo = all.Min(), hi = all.Max();
            if (hi <= lo) { lo -= 0.5; hi += 0.5; }
            var pad = (hi - lo) * 0.04;
            return (lo - pad, hi + pad);
        }
    }

    /// <summary>Writes the chart atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, Render());

    /// <summary>Ticks at 1, 2 or 5 × 10ⁿ steps, about five over the range.</summary>
    internal static IEnumerable<double> Ticks(double lo, double hi)
    {
        var raw = (hi - lo) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(s => s >= raw);
        for (var t = Math.Ceiling(lo / step) * step; t <= hi + step * 1e-9; t += step) yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
    }

    static string Label(double v) => v.ToString(Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-3 && v != 0) ? "0.##E+0" : "0.###", CultureInfo.InvariantCulture);

    static string Escape(string text) => WebUtility.HtmlEncode(text);

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
