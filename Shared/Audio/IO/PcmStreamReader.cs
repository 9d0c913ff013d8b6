using System.Buffers.Binary;
using NAudio.Wave;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Sample formats of headerless PCM streams, named as sox and ffmpeg name them.</summary>
public enum RawFormat
{
    /// <summary>Signed 16-bit little-endian integers.</summary>
    S16le,
    /// <summary>32-bit little-endian IEEE floats.</summary>
    F32le,
}

/// <summary>
/// Interleaved samples from a stream that can only be read forward (standard input, a socket): a WAV file whose
/// header is parsed as it arrives (NAudio reads the format chunk), or headerless PCM. Samples are scaled exactly as
/// <see cref="AudioFile.Read(string, AudioReadOptions?)"/> scales a file's, so a clip streamed and the same clip read
/// give the same values. A WAV's data size is a promise (a stream that ends sooner is truncated, an error), except 0
/// and sizes from 0x7FFF0000 on, the placeholders of programs writing into a pipe: those mean "to the end".
/// </summary>
public sealed class PcmStreamReader
{
    readonly Stream stream;
    readonly string source;
    readonly WaveFormatEncoding encoding;
    readonly int bits;
    long remaining; // bytes of samples still to read; long.MaxValue: to the end of the stream
    readonly long promised; // the header's data size
    byte[] bytes = [];
    int carried;    // bytes of an incomplete sample frame kept from the last read

    PcmStreamReader(Stream stream, string source, int sampleRate, int channels, WaveFormatEncoding encoding, int bits, long dataBytes)
    {
        (this.stream, this.source, SampleRate, Channels, this.encoding, this.bits, remaining, promised) = (stream, source, sampleRate, channels, encoding, bits, dataBytes, dataBytes);
    }

    /// <summary>Samples per second per channel.</summary>
    public int SampleRate { get; }

    /// <summary>Channels, interleaved in what <see cref="Read"/> returns.</summary>
    public int Channels { get; }

    /// <summary>Reads a WAV header from <paramref name="stream"/>, leaving it at the first sample.</summary>
    /// <exception cref="InvalidAudioException">Not a WAV stream, a header cut short, or an encoding that is not read.</exception>
    public static PcmStreamReader Wav(Stream stream, string source = "standard input")
    {
        var head = new byte[12];
        var got = stream.ReadAtLeast(head, 12, throwOnEndOfStream: false);
        if (got < 12) throw new InvalidAudioException(source, got == 0 ? "is empty" : "ends before a WAV header (12 bytes)");
        return Wav(stream, head, source);
    }

    static PcmStreamReader Wav(Stream stream, ReadOnlySpan<byte> head, string source)
    {
        if (!head[..4].SequenceEqual("RIFF"u8) || !head[8..12].SequenceEqual("WAVE"u8))
            throw new InvalidAudioException(source, "is not a WAV stream (it does not start with RIFF…WAVE); for headerless PCM give --format s16le or f32le");
        WaveFormat? format = null;
        Span<byte> chunk = stackalloc byte[8];
        while (true)
        {
            if (stream.ReadAtLeast(chunk, 8, throwOnEndOfStream: false) < 8)
                throw new InvalidAudioException(source, "the WAV header ends before its data chunk");
            var id = System.Text.Encoding.ASCII.GetString(chunk[..4]);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]);
            if (id == "data")
            {
                if (format is null) throw new InvalidAudioException(source, "the WAV data chunk comes before any format chunk");
                var (encoding, bits) = AudioDecoders.CheckFormat(format, source);
                // programs writing into a pipe cannot go back to fix the size: they write 0 or a placeholder near
                // 2 or 4 GiB (sox 0x7FFFF000, ffmpeg and arecord 0xFFFFFFFF or 0x7FFFFFFF), which mean "to the end"
                return new PcmStreamReader(stream, source, format.SampleRate, format.Channels, encoding, bits, size == 0 || size >= AudioDecoders.UnknownLength ? long.MaxValue : size);
            }
            // chunks are padded to an even size
            if (size > 1 << 20) throw new InvalidAudioException(source, $"the WAV header's '{id}' chunk claims {size} bytes; a header chunk that large is not read");
            var body = new byte[size + (size & 1)];
            if (stream.ReadAtLeast(body, body.Length, throwOnEndOfStream: false) < body.Length)
                throw new InvalidAudioException(source, $"the WAV header ends inside its '{id}' chunk");
            if (id == "fmt ")
            {
                try { format = WaveFormat.FromFormatChunk(new BinaryReader(new MemoryStream(body)), (int)size); }
                catch (Exception e) when (e is EndOfStreamException or ArgumentException or InvalidDataException or FormatException)
                {
                    throw new InvalidAudioException(source, $"the WAV format chunk cannot be read ({e.Message.TrimEnd('.')})");
                }
            }
        }
    }

    /// <summary>Headerless PCM: the format, rate and channel count are the caller's to know.</summary>
    public static PcmStreamReader Raw(Stream stream, RawFormat format, int sampleRate, int channels, string source = "standard input")
    {
        var problems = new List<string>();
        if (sampleRate <= 0) problems.Add($"sample rate must be positive, got {sampleRate}");
        if (channels <= 0) problems.Add($"channels must be positive, got {channels}");
        if (problems.Count > 0) throw new InvalidOptionException(string.Join("; ", problems));
        return format == RawFormat.S16le
            ? new PcmStreamReader(stream, source, sampleRate, channels, WaveFormatEncoding.Pcm, 16, long.MaxValue)
            : new PcmStreamReader(stream, source, sampleRate, channels, WaveFormatEncoding.IeeeFloat, 32, long.MaxValue);
    }

    /// <summary>
    /// Reads up to <paramref name="frames"/> sample frames (frames × channels values, interleaved), blocking until some
    /// arrive; an empty array at the end of the stream. A last incomplete frame is dropped.
    /// </summary>
    /// <exception cref="InvalidAudioException">A sample is NaN or infinite (float streams).</exception>
    public float[] Read(int frames)
    {
        if (frames < 1) throw new ArgumentOutOfRangeException(nameof(frames), frames, "at least one frame");
        var frameBytes = Channels * bits / 8;
        var want = (int)Math.Min((long)frames * frameBytes, remaining);
        if (want <= 0) return [];
        if (bytes.Length < Math.Max(want, carried)) Array.Resize(ref bytes, Math.Max(want, carried));
        // block until a whole frame is here (or the stream ends), then take what has come
        while (carried < Math.Min(want, frameBytes))
        {
            var got = stream.Read(bytes, carried, want - carried);
            if (got == 0)
            {
                // a data size in the header is a promise (0 and 0xFFFFFFFF mean "until the end"), as for a file
                if (promised != long.MaxValue)
                    throw new InvalidAudioException(source, $"truncated: the header promises {promised} bytes of samples but the stream ended after {promised - remaining + carried}");
                break;
            }
            carried += got;
        }
        var whole = Math.Min(carried, want) / frameBytes * frameBytes;
        remaining -= whole;
        var samples = new float[whole / (bits / 8)];
        AudioDecoders.Decode(bytes.AsSpan(0, whole), samples, encoding, bits);
        carried -= whole;
        bytes.AsSpan(whole, carried).CopyTo(bytes);
        var bad = Array.FindIndex(samples, s => !float.IsFinite(s));
        if (bad >= 0) throw new InvalidAudioException(source, $"a sample of channel {bad % Channels} is {samples[bad]}");
        return samples;
    }
}
