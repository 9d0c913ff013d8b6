using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.Tests;

/// <summary>
/// An independent PNG decoder for the tests (8-bit RGB or RGBA, every filter type, CRCs checked), written from the
/// PNG specification rather than from our encoder, so a picture the project writes can be read back and its
/// pixels checked. For an animated PNG it decodes the default image and counts the frames.
/// </summary>
public sealed record DecodedPng(int Width, int Height, byte[] Rgb, int Frames)
{
    public (byte R, byte G, byte B) this[int x, int y] => (Rgb[(y * Width + x) * 3], Rgb[(y * Width + x) * 3 + 1], Rgb[(y * Width + x) * 3 + 2]);

    public static DecodedPng Decode(byte[] png)
    {
        byte[] signature = [137, 80, 78, 71, 13, 10, 26, 10];
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("not a PNG signature");
        int width = 0, height = 0, channels = 0, frames = 1;
        var idat = new MemoryStream();
        var at = 8;
        var ended = false;
        while (at + 12 <= png.Length && !ended)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            if (length < 0 || at + 12 + length > png.Length) throw new InvalidDataException($"chunk {type} runs past the end");
            var data = png.AsSpan(at + 8, length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            if (crc != Crc32(png.AsSpan(at + 4, 4 + length))) throw new InvalidDataException($"bad CRC in chunk {type}");
            switch (type)
            {
                case "IHDR":
                    (width, height) = (BinaryPrimitives.ReadInt32BigEndian(data), BinaryPrimitives.ReadInt32BigEndian(data[4..]));
                    if (data[8] != 8 || data[12] != 0) throw new InvalidDataException("only 8-bit, non-interlaced images are read");
                    channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"colour type {data[9]} is not read") };
                    break;
                case "acTL": frames = BinaryPrimitives.ReadInt32BigEndian(data); break;
                case "IDAT": idat.Write(data); break;
                case "IEND": ended = true; break;
            }
            at += 12 + length;
        }
        if (!ended) throw new InvalidDataException("no IEND chunk");
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        if (bytes.Length != height * (stride + 1)) throw new InvalidDataException($"image data has {bytes.Length} bytes, expected {height * (stride + 1)}");
        var pixels = new byte[height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            for (var i = 0; i < stride; i++)
            {
                int x = bytes[y * (stride + 1) + 1 + i];
                int left = i >= channels ? pixels[y * stride + i - channels] : 0;
                int up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
                int upLeft = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
                pixels[y * stride + i] = (byte)(filter switch
                {
                    0 => x,
                    1 => x + left,
                    2 => x + up,
                    3 => x + (left + up) / 2,
                    4 => x + Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"unknown filter {filter}"),
                });
            }
        }
        var rgb = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
            for (var c = 0; c < 3; c++) rgb[p * 3 + c] = pixels[p * channels + c];
        return new DecodedPng(width, height, rgb, frames);
    }

    static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var (pa, pb, pc) = (Math.Abs(p - a), Math.Abs(p - b), Math.Abs(p - c));
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
