using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Shared.Arrays;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Tests;

public class PngTests
{
    /// <summary>Reads the chunks back; the tests check pixels by inflating IDAT and CRCs with Python's zlib.</summary>
    static (int Width, int Height, List<(string Type, byte[] Data)> Chunks) Parse(byte[] png)
    {
        Assert.Equal(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png[..8]);
        var chunks = new List<(string, byte[])>();
        var at = 8;
        while (at < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            chunks.Add((type, png[(at + 8)..(at + 8 + length)]));
            at += 12 + length;
        }
        var header = chunks[0].Item2;
        return (BinaryPrimitives.ReadInt32BigEndian(header), BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4)), chunks);
    }

    static byte[] Inflate(byte[] data)
    {
        using var z = new ZLibStream(new MemoryStream(data), CompressionMode.Decompress);
        var output = new MemoryStream();
        z.CopyTo(output);
        return output.ToArray();
    }

    [Fact]
    public void Png_DecodesToTheDrawnPixels()
    {
        var image = new PngImage(7, 5);
        image.FillRectangle(2, 1, 4, 3, (200, 10, 20));
        var (width, height, chunks) = Parse(image.Encode());
        Assert.Equal((7, 5), (width, height));
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type));
        var raw = Inflate(chunks[1].Data);
        Assert.Equal(5 * (1 + 7 * 3), raw.Length);
        (byte, byte, byte) Pixel(int x, int y) { var i = y * (1 + 21) + 1 + x * 3; return (raw[i], raw[i + 1], raw[i + 2]); }
        Assert.Equal(((byte)200, (byte)10, (byte)20), Pixel(3, 2));
        Assert.Equal(((byte)255, (byte)255, (byte)255), Pixel(0, 0));
        Assert.Equal(((byte)255, (byte)255, (byte)255), Pixel(4, 3));
        // chunk CRCs as zlib computes them
        var dir = Pipeline.Tests.TestData.TempDirectory();
        var path = Path.Combine(dir, "x.png");
        File.WriteAllBytes(path, image.Encode());
        var check = Pipeline.Tests.TestData.Python($$"""
            import struct, zlib
            b = open(r"{{path}}", "rb").read(); i = 8; ok = True
            while i < len(b):
                n = struct.unpack(">I", b[i:i+4])[0]; t = b[i+4:i+8]; d = b[i+8:i+8+n]; crc = struct.unpack(">I", b[i+8+n:i+12+n])[0]
                ok = ok and zlib.crc32(t + d) == crc; i += 12 + n
            print(ok)
            """);
        Assert.Equal("True", check.Trim());
    }

    [Fact]
    public void ConvergenceAnimation_HasOneFramePerSnapshot()
    {
        var random = new Random(2);
        var x = new NdArray([300], Enumerable.Range(0, 300).Select(i => (float)((i % 2 == 0 ? -2 : 2) + 0.4 * (random.NextDouble() - 0.5))).ToArray());
        var gmm = new GaussianMixture(2, CovarianceType.Diagonal);
        var snapshots = new List<GaussianMixture>();
        gmm.FitEm(x, new GmmEmOptions { Tolerance = 0, MaxIterations = 6 }, snapshot: (m, _) => snapshots.Add(m.Clone()));
        Assert.Equal(6, snapshots.Count);
        var (width, height, chunks) = Parse(MixturePictures.ConvergenceAnimation(snapshots, x, v => 0.5 * Math.Exp(-v * v / 2) / Math.Sqrt(2 * Math.PI)));
        Assert.Equal((480, 300), (width, height));
        Assert.Equal(6, BinaryPrimitives.ReadInt32BigEndian(chunks.Single(c => c.Type == "acTL").Data));
        Assert.Equal(6, chunks.Count(c => c.Type == "fcTL"));
        Assert.Equal(5, chunks.Count(c => c.Type == "fdAT"));
        Assert.Equal(480 * 300 * 3 + 300, Inflate(chunks.Single(c => c.Type == "IDAT").Data).Length);
        var svg = System.Xml.Linq.XDocument.Parse(MixturePictures.Density(gmm, x, v => v).Render());
        Assert.Contains("true density", svg.Descendants().Select(e => e.Value));
    }
}
