using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;

namespace Pipeline.Shared.Arrays;

/// <summary>
/// NumPy's <c>.npy</c> format (versions 1-3), so Python users can hand data in and take results out.
/// Reads little- or big-endian float32/float64 in C or Fortran order (float64 is narrowed to float32); writes
/// little-endian float32, version 1.0, header padded to 64 bytes as NumPy does.
/// </summary>
public static partial class NpyFile
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <exception cref="InvalidFileException">The file is missing, not .npy, truncated, too large for one array or not floating point.</exception>
    public static NdArray Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new InvalidFileException(path, "file not found"); }
        catch (DirectoryNotFoundException) { throw new InvalidFileException(path, "file not found"); }
        catch (UnauthorizedAccessException e) { throw new InvalidFileException(path, "cannot be read: " + e.Message, e); }
        catch (IOException e) { throw new InvalidFileException(path, "cannot be read: " + e.Message, e); }
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a .npy file; <paramref name="name"/> is used in error messages.</summary>
    public static NdArray Parse(ReadOnlySpan<byte> bytes, string name = "<npy>")
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new InvalidFileException(name, "not a .npy file (the NumPy magic string is missing)");
        int major = bytes[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
                headerStart = 10;
                break;
            case 2 or 3:
                if (bytes.Length < 12) throw new InvalidFileException(name, "truncated .npy header");
                headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
                headerStart = 12;
                break;
            default:
                throw new InvalidFileException(name, $"unsupported .npy format version {major}.{bytes[7]}");
        }
        if (bytes.Length < headerStart + headerLength) throw new InvalidFileException(name, "truncated .npy header");
        var header = Encoding.UTF8.GetString(bytes.Slice(headerStart, headerLength));

        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
            throw new InvalidFileException(name, $"malformed .npy header: {header.Trim()}");
        var fortranOrder = fortran.Groups[1].Value == "True";

        var shape = shapeMatch.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out var d) && d >= 0 ? d : throw new InvalidFileException(name, $"bad dimension '{s}' in .npy header"))
            .ToArray();
        // in 128 bits: a forged header's shape must not wrap around to a size that looks plausible
        Int128 count = 1;
        foreach (var d in shape) count = count * d > Array.MaxLength ? Array.MaxLength + (Int128)1 : count * d;
        if (count > Array.MaxLength)
            throw new InvalidFileException(name, $".npy shape ({string.Join(", ", shape)}) holds more values than one array can ({Array.MaxLength})");

        var type = descr.Groups[1].Value;
        var little = type[0] is '<' or '|' || (type[0] == '=' && BitConverter.IsLittleEndian);
        var size = type[1..] switch
        {
            "f4" => 4,
            "f8" => 8,
            _ => throw new InvalidFileException(name, $"unsupported dtype '{type}'; expected float32 ('<f4') or float64 ('<f8')"),
        };
        var body = bytes[(headerStart + headerLength)..];
        if (body.Length < count * size)
            throw new InvalidFileException(name, $"truncated .npy data: shape ({string.Join(", ", shape)}) needs {count * size} bytes, the file holds {body.Length}");

        var data = new float[(int)count];
        if (size == 4 && little && BitConverter.IsLittleEndian)
        {
            body[..(int)(count * 4)].CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                var chunk = body.Slice(i * size, size);
                data[i] = size == 4
                    ? (little ? BinaryPrimitives.ReadSingleLittleEndian(chunk) : BinaryPrimitives.ReadSingleBigEndian(chunk))
                    : (float)(little ? BinaryPrimitives.ReadDoubleLittleEndian(chunk) : BinaryPrimitives.ReadDoubleBigEndian(chunk));
            }
        }
        // Fortran order (what np.save(x.T) writes) is the C-order array of the reversed shape, transposed.
        return fortranOrder && shape.Length > 1 ? ReverseAxes(new NdArray([.. shape.Reverse()], data)) : new NdArray(shape, data);
    }

    /// <summary>The array with its axes in reverse order (a matrix's transpose), in C order.</summary>
    static NdArray ReverseAxes(NdArray source)
    {
        var rank = source.Shape.Length;
        var shape = source.Shape.Reverse().ToArray();
        var strides = new long[rank]; // of the source, for each axis of the result
        long stride = 1;
        for (var a = rank - 1; a >= 0; a--)
        {
            strides[rank - 1 - a] = stride;
            stride *= source.Shape[a];
        }
        var result = new float[source.Data.Length];
        var index = new int[rank];
        for (var i = 0; i < result.Length; i++)
        {
            long offset = 0;
            for (var a = 0; a < rank; a++) offset += index[a] * strides[a];
            result[i] = source.Data[offset];
            for (var a = rank - 1; a >= 0 && ++index[a] == shape[a]; a--) index[a] = 0;
        }
        return new NdArray(shape, result);
    }

    /// <summary>Writes <paramref name="array"/> as little-endian float32, atomically.</summary>
    public static void Write(string path, NdArray array) => AtomicFile.Write(path, s => Write(s, array));

    /// <summary>Writes <paramref name="array"/> to a stream as a version 1.0 .npy file.</summary>
    public static void Write(Stream stream, NdArray array)
    {
        var shape = array.Rank == 1 ? $"({array.Shape[0]},)" : "(" + string.Join(", ", array.Shape) + ")";
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        var unpadded = 10 + dict.Length + 1;
        var padding = (64 - unpadded % 64) % 64;
        var header = dict + new string(' ', padding) + "\n";
        Span<byte> prefix = stackalloc byte[10];
        Magic.CopyTo(prefix);
        prefix[6] = 1;
        prefix[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], checked((ushort)header.Length));
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(array.Data.AsSpan()));
        }
        else
        {
            var buffer = new byte[4];
            foreach (var x in array.Data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, x);
                stream.Write(buffer);
            }
        }
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=][a-z]\d+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
