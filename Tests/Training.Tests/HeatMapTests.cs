using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Shared.Arrays;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Tests;

public class HeatMapTests
{
    [Fact]
    public void HeatMap_PutsTheMaximumInYellow_TheFloorInPurple_AndRowZeroAtTheBottom()
    {
        // 2 × 3: the largest value at row 0, column 2; a value 60 dB down at row 1, column 0
        var m = new NdArray([2, 3], [0.5f, 0.1f, 1f, 0.001f, 0.3f, 0.2f]);
        var image = HeatMap.Render(m, maxWidth: 6, maxHeight: 4);
        Assert.Equal((6, 4), (image.Width, image.Height));
        (byte, byte, byte) Pixel(int x, int y) { var i = (y * image.Width + x) * 3; return (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]); }
        Assert.Equal(((byte)0xfd, (byte)0xe7, (byte)0x25), Pixel(5, 3)); // row 0 is drawn at the bottom
        Assert.Equal(((byte)0x44, (byte)0x01, (byte)0x54), Pixel(0, 0)); // −60 dB: the bottom of the colour map
        // decode the PNG the way a viewer does and find the same pixel
        var png = image.Encode();
        var at = 8;
        var idat = new MemoryStream();
        while (at < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            if (System.Text.Encoding.ASCII.GetString(png, at + 4, 4) == "IDAT") idat.Write(png, at + 8, length);
            at += 12 + length;
        }
        using var z = new ZLibStream(new MemoryStream(idat.ToArray()), CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var offset = 3 * (1 + 6 * 3) + 1 + 5 * 3;
        Assert.Equal(new byte[] { 0xfd, 0xe7, 0x25 }, bytes[offset..(offset + 3)]);
    }
}
