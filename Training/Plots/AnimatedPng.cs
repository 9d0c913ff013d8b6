using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Plots;

/// <summary>
/// Joins PNG frames (ScottPlot's renders) into one animated PNG (APNG, the W3C PNG specification, third edition):
/// the first frame's header and image data stay as they are, so a viewer without animation shows it; every other
/// frame's image data moves into <c>fdAT</c> chunks, each frame announced by an <c>fcTL</c> with its delay.
/// Only the container is written here; pixels and compression are the renderer's.
/// </summary>
public static class AnimatedPng
{
    static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>One animation of <paramref name="frames"/> (PNGs of one size), each shown <paramref name="frameMilliseconds"/> ms, looping.</summary>
    /// <exception cref="InvalidInputException">No frames, a frame that is not a PNG, or frames of different sizes.</exception>
    public static byte[] Assemble(IReadOnlyList<byte[]> frames, int frameMilliseconds)
    {
        if (frames.Count == 0) throw new InvalidInputException("an animation needs at least one frame");
        var parsed = frames.Select((f, i) => Chunks(f, i)).ToList();
        var header = parsed[0].Single(c => c.Type == "IHDR").Data;
        for (var i = 1; i < parsed.Count; i++)
            if (!parsed[i].Single(c => c.Type == "IHDR").Data.AsSpan().SequenceEqual(header))
                throw new InvalidInputException($"frame {i} differs in size or colour type from frame 0");
        var (width, height) = (BinaryPrimitives.ReadUInt32BigEndian(header), BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)));
        using var output = new MemoryStream();
        output.Write(Signature);
        uint sequence = 0;
        var first = parsed[0];
        var firstData = first.FindIndex(c => c.Type == "IDAT");
        foreach (var chunk in first.Take(firstData)) Write(output, chunk.Type, chunk.Data); // IHDR and the ancillary chunks before the image
        var control = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(control, (uint)frames.Count);
        Write(output, "acTL", control); // frame count, then 0 plays: loop forever
        for (var i = 0; i < parsed.Count; i++)
        {
            var frame = new byte[26];
            BinaryPrimitives.WriteUInt32BigEndian(frame, sequence++);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), width);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), height);
            // x and y offsets 0; delay as a fraction of a second; dispose and blend operations 0 (none, source)
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), (ushort)Math.Clamp(frameMilliseconds, 0, ushort.MaxValue));
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(22), 1000);
            Write(output, "fcTL", frame);
            foreach (var data in parsed[i].Where(c => c.Type == "IDAT"))
            {
                if (i == 0) { Write(output, "IDAT", data.Data); continue; }
                var fdat = new byte[data.Data.Length + 4];
                BinaryPrimitives.WriteUInt32BigEndian(fdat, sequence++);
                data.Data.CopyTo(fdat, 4);
                Write(output, "fdAT", fdat);
            }
        }
        Write(output, "IEND", []);
        return output.ToArray();
    }

    static List<(string Type, byte[] Data)> Chunks(byte[] png, int index)
    {
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(Signature)) throw new InvalidInputException($"frame {index} is not a PNG");
        var chunks = new List<(string, byte[])>();
        for (var at = 8; at + 12 <= png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            if (length < 0 || at + 12 + length > png.Length) throw new InvalidInputException($"frame {index} is a truncated PNG");
            var type = Encoding.ASCII.GetString(png, at + 4, 4);
            if (type == "IEND") return chunks;
            chunks.Add((type, png.AsSpan(at + 8, length).ToArray()));
            at += 12 + length;
        }
        throw new InvalidInputException($"frame {index} is a truncated PNG (no IEND)");
    }

    static void Write(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        output.Write(word);
        var name = Encoding.ASCII.GetBytes(type);
        output.Write(name);
        output.Write(data);
        var crc = new Crc32();
        crc.Append(name);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        output.Write(word);
    }
}
