using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Checkpoints;

/// <summary>Tensors and string metadata read from a safetensors file, in file order.</summary>
public sealed record SafeTensorsContent(IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a UTF-8 JSON header that maps
/// each name to its dtype, shape and byte range, an optional <c>__metadata__</c> map of strings, then the raw
/// little-endian data. Python reads it with the <c>safetensors</c> package or with json + numpy alone.
/// This writer stores F32; the reader also accepts F64, I64 and I32 (converted to float32), so a PyTorch
/// state dict with its int64 <c>num_batches_tracked</c> loads.
/// </summary>
public static class SafeTensors
{
    const string MetadataKey = "__metadata__";
    const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes the tensors (atomically: a temporary file renamed into place).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in list)
            if (name == MetadataKey || !names.Add(name)) throw new InvalidInputException($"safetensors: tensor name '{name}' is reserved or repeated");
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in list)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += 4L * tensor.Count;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' '); // the data starts 8-byte aligned
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            header.Position = 0;
            header.CopyTo(stream);
            foreach (var (_, tensor) in list) WriteLittleEndian(stream, tensor.Span);
        });
    }

    static void WriteLittleEndian(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian) { stream.Write(MemoryMarshal.AsBytes(values)); return; }
        var buffer = new byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
            stream.Write(buffer);
        }
    }

    /// <summary>Reads a file; any structural problem is an <see cref="InvalidFileException"/> naming it.</summary>
    public static SafeTensorsContent Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "no such file");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InvalidFileException(path, $"{bytes.Length} bytes is too short for a safetensors file");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8)
            throw new InvalidFileException(path, $"header length {headerLength} does not fit a file of {bytes.Length} bytes (not safetensors, or truncated)");
        var dataStart = 8 + (int)headerLength;
        var data = bytes.AsSpan(dataStart);
        JsonDocument document;
        try { document = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)); }
        catch (JsonException e) { throw new InvalidFileException(path, $"the header is not valid JSON ({e.Message})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidFileException(path, "the header is not a JSON object");
            var tensors = new Dictionary<string, Tensor>();
            var metadata = new Dictionary<string, string>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == MetadataKey)
                {
                    foreach (var item in entry.Value.EnumerateObject())
                        metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
                    continue;
                }
                tensors[entry.Name] = ReadTensor(path, entry.Name, entry.Value, data);
            }
            return new SafeTensorsContent(tensors, metadata);
        }
    }

    static Tensor ReadTensor(string path, string name, JsonElement info, ReadOnlySpan<byte> data)
    {
        try
        {
            var dtype = info.GetProperty("dtype").GetString();
            var shape = info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = info.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var size = dtype switch { "F32" or "I32" => 4, "F64" or "I64" => 8, _ => 0 };
            if (size == 0) throw new InvalidFileException(path, $"tensor '{name}' has dtype {dtype}; supported: F32, F64, I32, I64");
            if (shape.Any(d => d < 0) || offsets.Length != 2) throw new InvalidFileException(path, $"tensor '{name}' has a malformed shape or data_offsets");
            var count = Tensor.CountOf(shape);
            var (begin, end) = (offsets[0], offsets[1]);
            if (begin < 0 || end < begin || end > data.Length || end - begin != (long)count * size)
                throw new InvalidFileException(path, $"tensor '{name}' ({dtype} {Tensor.ShapeText(shape)}) has byte range [{begin}, {end}) that does not fit its size or the file's {data.Length} data bytes (truncated?)");
            var raw = data.Slice((int)begin, (int)(end - begin));
            var values = new float[count];
            for (var i = 0; i < count; i++)
                values[i] = dtype switch
                {
                    "F32" => BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(4 * i)),
                    "I32" => BinaryPrimitives.ReadInt32LittleEndian(raw.Slice(4 * i)),
                    "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(8 * i)),
                    _ => BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8 * i)),
                };
            return Tensor.FromArray(values, shape);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidFileException(path, $"tensor '{name}' has a malformed header entry ({e.Message})", e);
        }
    }
}
