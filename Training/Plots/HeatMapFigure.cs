using Pipeline.Shared.Arrays;
using ScottPlot;

namespace Pipeline.Training.Plots;

/// <summary>
/// A non-negative matrix (a spectrogram, templates, activations) as a heat map in decibels: 20·log10(|x| / max),
/// floored at <c>floorDb</c> (−60 dB), row 0 at the bottom (low frequencies low), on the perceptually uniform
/// viridis map, with labelled axes in the units <see cref="HeatMapAxis"/> gives and a colour bar in dB.
/// </summary>
public static class HeatMapFigure
{
    /// <summary>The colour of NaN cells.</summary>
    public static readonly Color NaNColor = Color.FromHex("#BBBBBB");

    /// <summary>
    /// The figure of a (rows, columns) <paramref name="matrix"/>, or null with the reason when there is nothing to
    /// draw (no cells). An all-zero matrix is drawn at the floor, NaN cells in grey, and the title says so.
    /// </summary>
    /// <param name="groupColumns">When set, a thin white line after every that many columns (templates laid side by side).</param>
    public static (Plot? Plot, string? Warning) Draw(NdArray matrix, string title, HeatMapAxis rows, HeatMapAxis columns, double floorDb = -60, int? groupColumns = null)
    {
        if (matrix.Shape.Length != 2 || matrix.Rows == 0 || matrix.Columns == 0)
            return (null, $"{title}: nothing to draw (a matrix of shape ({string.Join(", ", matrix.Shape)}))");
        var (height, width) = (matrix.Rows, matrix.Columns);
        var max = 0.0;
        var nans = 0;
        foreach (var v in matrix.Data)
            if (float.IsNaN(v)) nans++;
            else if (float.IsFinite(v)) max = Math.Max(max, Math.Abs(v));
        // ScottPlot leaves a heat map one cell wide (or high) blank: such a matrix is drawn doubled along that axis,
        // over the same rectangle, which looks the same
        var (drawnHeight, drawnWidth) = (Math.Max(height, 2), Math.Max(width, 2));
        var levels = new double[drawnHeight, drawnWidth];
        for (var r = 0; r < drawnHeight; r++)
            for (var c = 0; c < drawnWidth; c++)
            {
                var v = Math.Abs((double)matrix.Data[r * height / drawnHeight * width + c * width / drawnWidth]);
                levels[r, c] = double.IsNaN(v) ? double.NaN : double.IsPositiveInfinity(v) ? 0 : max > 0 && v > 0 ? Math.Max(20 * Math.Log10(v / max), floorDb) : floorDb;
            }
        var notes = new List<string>();
        if (max == 0 && nans < matrix.Data.Length) notes.Add("all zero");
        if (nans > 0) notes.Add($"{nans} NaN cells in grey");
        var plot = Figure.Create(notes.Count == 0 ? title : $"{title} ({string.Join(", ", notes)})", columns.Label, rows.Label);
        var map = plot.Add.Heatmap(levels);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(floorDb, 0);
        map.NaNCellColor = NaNColor;
        map.FlipVertically = true; // row 0 at the bottom
        map.Rectangle = new CoordinateRect(0, width * columns.Step, 0, height * rows.Step); // edges: cell i spans [i, i + 1)·step
        plot.Axes.SetLimits(0, width * columns.Step, 0, height * rows.Step);
        if (groupColumns is > 0 and var group)
            for (var c = group; c < width; c += group)
                plot.Add.VerticalLine(c * columns.Step, 1, Colors.White);
        if (columns.Counts) Figure.CellTicks(plot.Axes.Bottom, width);
        if (rows.Counts) Figure.CellTicks(plot.Axes.Left, height);
        plot.Add.ColorBar(map).Label = "level (dB re max)";
        return (plot, null);
    }

    /// <summary>Draws and writes a PNG at <paramref name="path"/>; returns the one-line reason when it was skipped (nothing written).</summary>
    public static string? Write(string path, NdArray matrix, string title, HeatMapAxis rows, HeatMapAxis columns,
        int width = Figure.DefaultWidth, int height = Figure.DefaultHeight, double floorDb = -60, int? groupColumns = null)
    {
        var (plot, warning) = Draw(matrix, title, rows, columns, floorDb, groupColumns);
        if (plot is not null) Figure.WritePng(plot, path, width, height);
        return warning;
    }
}
