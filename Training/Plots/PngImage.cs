using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Shared.Files;

namespace Pipeline.Training.Plots;

/// <summary>
/// An RGB raster with the few drawing operations the pictures need (filled rectangles, lines), encoded as PNG
/// or, as a sequence of frames, as an animated PNG (APNG: acTL/fcTL/fdAT chunks that browsers play and plain
/// PNG readers show as the first frame). Compression is System.IO.Compression's zlib stream.
/// </summary>
public sealed class PngImage
{
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Pixels, row-major, 3 bytes (R, G, B) each.</summary>
    public byte[] Pixels { get; }

    /// <summary>A white image.</summary>
    public PngImage(int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), "an image needs at least one pixel");
        (Width, Height) = (width, height);
        Pixels = new byte[width * height * 3];
        Array.Fill(Pixels, (byte)255);
    }

    /// <summary>Sets one pixel (ignored outside the image).</summary>
    public void Set(int x, int y, (byte R, byte G, byte B) color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        var at = (y * Width + x) * 3;
        (Pixels[at], Pixels[at + 1], Pixels[at + 2]) = color;
    }

    /// <summary>Fills the rectangle [x0, x1) × [y0, y1), clipped to the image.</summary>
    public void FillRectangle(int x0, int y0, int x1, int y1, (byte R, byte G, byte B) color)
    {
        for (var y = Math.Max(0, Math.Min(y0, y1)); y < Math.Min(Height, Math.Max(y0, y1)); y++)
            for (var x = Math.Max(0, Math.Min(x0, x1)); x < Math.Min(Width, Math.Max(x0, x1)); x++) Set(x, y, color);
    }

    /// <summary>A line of the given thickness (Bresenham, thickened by squares).</summary>
    public void DrawLine(double x0, double y0, double x1, double y1, (byte R, byte G, byte B) color, int thickness = 2)
    {
        var steps = (int)Math.Ceiling(Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0))) + 1;
        for (var i = 0; i <= steps; i++)
        {
            var x = (int)Math.Round(x0 + (x1 - x0) * i / steps);
            var y = (int)Math.Round(y0 + (y1 - y0) * i / steps);
            FillRectangle(x - thickness / 2, y - thickness / 2, x - thickness / 2 + thickness, y - thickness / 2 + thickness, color);
        }
    }

    /// <summary>Parses a colour written #RRGGBB.</summary>
    public static (byte R, byte G, byte B) Color(string hex) =>
        (Convert.ToByte(hex.Substring(1, 2), 16), Convert.ToByte(hex.Substring(3, 2), 16), Convert.ToByte(hex.Substring(5, 2), 16));

    /// <summary>The image as a PNG file's bytes.</summary>
    public byte[] Encode() => EncodeAnimation([this], 0);

    /// <summary>Writes a PNG atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, Encode());

    /// <summary>
    /// An animated PNG of equally sized frames, each shown <paramref name="frameMilliseconds"/>, looping forever.
    /// A single frame gives a plain PNG.
    /// </summary>
    public static byte[] EncodeAnimation(IReadOnlyList<PngImage> frames, int frameMilliseconds)
    {
        if (frames.Count == 0) throw new ArgumentException("an animation needs at least one frame");
        var (width, height) = (frames[0].Width, frames[0].Height);
        if (frames.Any(f => f.Width != width || f.Height != height)) throw new ArgumentException("every frame must have the first frame's size");
        var output = new MemoryStream();
        output.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: RGB
        Chunk(output, "IHDR", header);
        var animated = frames.Count > 1;
        if (animated)
        {
            var control = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(control, frames.Count);
            Chunk(output, "acTL", control); // plays: 0 means loop forever
        }
        var sequence = 0;
        for (var f = 0; f < frames.Count; f++)
        {
            if (animated)
            {
                var fc = new byte[26];
                BinaryPrimitives.WriteInt32BigEndian(fc, sequence++);
                BinaryPrimitives.WriteInt32BigEndian(fc.AsSpan(4), width);
                BinaryPrimitives.WriteInt32BigEndian(fc.AsSpan(8), height);
                BinaryPrimitives.WriteUInt16BigEndian(fc.AsSpan(20), (ushort)Math.Clamp(frameMilliseconds, 1, 65535));
                BinaryPrimitives.WriteUInt16BigEndian(fc.AsSpan(22), 1000);
                Chunk(output, "fcTL", fc);
            }
            var data = Compress(frames[f]);
            if (f == 0) Chunk(output, "IDAT", data);
            else
            {
                var fd = new byte[4 + data.Length];
                BinaryPrimitives.WriteInt32BigEndian(fd, sequence++);
                data.CopyTo(fd, 4);
                Chunk(output, "fdAT", fd);
            }
        }
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    static byte[] Compress(PngImage image)
    {
        var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (var y = 0; y < image.Height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(image.Pixels, y * image.Width * 3, image.Width * 3);
            }
        return raw.ToArray();
    }

    static void Chunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        var crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    /// <summary>The CRC-32 of PNG chunks (the ISO-HDLC polynomial, reflected).</summary>
    static class Crc32
    {
        static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            var c = (uint)n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }
    }
}
