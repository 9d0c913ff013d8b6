using Pipeline.Shared.Arrays;

namespace Pipeline.Training.Plots;

/// <summary>
/// A matrix as a PNG heat map in decibels (the W/H/WH pictures of log-domain NMF by Adam): 20·log10(x / max) floored at
/// <c>floorDb</c> (−60 dB), row 0 at the bottom (low frequencies low), on the perceptually uniform viridis colour
/// map, each cell stretched to whole pixels.
/// </summary>
public static class HeatMap
{
    // viridis at 0, ¼, ½, ¾, 1; linear in between
    static readonly (double R, double G, double B)[] Viridis =
        [(0x44, 0x01, 0x54), (0x3b, 0x52, 0x8b), (0x21, 0x91, 0x8c), (0x5e, 0xc9, 0x62), (0xfd, 0xe7, 0x25)];

    /// <summary>The colour of <paramref name="t"/> in [0, 1].</summary>
    public static (byte R, byte G, byte B) Color(double t)
    {
        t = Math.Clamp(double.IsNaN(t) ? 0 : t, 0, 1) * (Viridis.Length - 1);
        var i = Math.Min((int)t, Viridis.Length - 2);
        var f = t - i;
        var (a, b) = (Viridis[i], Viridis[i + 1]);
        return ((byte)Math.Round(a.R + (b.R - a.R) * f), (byte)Math.Round(a.G + (b.G - a.G) * f), (byte)Math.Round(a.B + (b.B - a.B) * f));
    }

    /// <summary>Renders a (rows, columns) matrix of magnitudes; at most <paramref name="maxWidth"/> × <paramref name="maxHeight"/> pixels.</summary>
    public static PngImage Render(NdArray matrix, double floorDb = -60, int maxWidth = 800, int maxHeight = 400)
    {
        int rows = matrix.Rows, columns = matrix.Columns;
        var max = matrix.Data.Where(float.IsFinite).Select(Math.Abs).DefaultIfEmpty(0f).Max();
        var scaleX = Math.Max(1, Math.Min(maxWidth / Math.Max(columns, 1), 8));
        var scaleY = Math.Max(1, Math.Min(maxHeight / Math.Max(rows, 1), 8));
        int width = Math.Max(1, Math.Min(columns * scaleX, maxWidth)), height = Math.Max(1, Math.Min(rows * scaleY, maxHeight)); // larger matrices are sampled down
        var image = new PngImage(width, height);
        for (var y = 0; y < height; y++)
        {
            var row = rows - 1 - (int)((long)y * rows / height);
            for (var x = 0; x < width; x++)
            {
                var column = (int)((long)x * columns / width);
                var value = Math.Abs(matrix.Data[row * columns + column]);
                var db = max > 0 && value > 0 ? 20 * Math.Log10(value / max) : floorDb;
                image.Set(x, y, Color((Math.Max(db, floorDb) - floorDb) / -floorDb));
            }
        }
        return image;
    }
}
