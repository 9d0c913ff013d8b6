using System.Buffers.Binary;
using NAudio.Wave;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Turns a file's bytes into interleaved float samples: WAV (RIFF and RF64) and AIFF through NAudio's readers, MP3
/// through NLayer, Ogg Vorbis through NVorbis, all managed. The container is recognised by its first bytes, not by
/// the file name. NAudio parses the chunks; the checks it leaves to the caller are made here: a supported encoding,
/// a consistent block size, and a data chunk that the file really holds (a truncated file is refused, not shortened).
/// </summary>
static class AudioDecoders
{
    /// <summary>A decoded span: interleaved samples and the file's format.</summary>
    public sealed record Decoded(float[] Samples, int SampleRate, int Channels, long TotalFrames);

    /// <summary>A data size at least this large, beyond the file's end, is a pipe writer's "unknown" (sox: 0x7FFFF000).</summary>
    internal const long UnknownLength = 0x7FFF0000;

    static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    /// <summary>The frames [<paramref name="start"/>, start + <paramref name="count"/>) of <paramref name="path"/>; count null: to the end.</summary>
    public static Decoded Read(string path, Stream stream, Func<int, long> start, Func<int, long?> count)
    {
        Span<byte> head = stackalloc byte[40];
        var got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        head = head[..got];
        var kind = Sniff(head);
        return kind switch
        {
            "wav" or "aiff" => ReadPcm(path, stream, kind, start, count),
            "mp3" => Whole(path, ReadMp3(path, stream), start, count),
            "ogg" => Whole(path, ReadVorbis(path, stream), start, count),
            "flac" => throw new InvalidAudioException(path, "FLAC is not read here (no managed FLAC decoder is used); convert it to WAV, e.g. `sox in.flac out.wav` or `ffmpeg -i in.flac out.wav`"),
            "opus" => throw new InvalidAudioException(path, "Ogg Opus is not read here (no managed Opus decoder is used); convert it to WAV, e.g. `ffmpeg -i in.opus out.wav`"),
            "au" => throw new InvalidAudioException(path, "Sun/NeXT audio (.au, .snd) is not read; convert it to WAV, e.g. `sox in.au out.wav`"),
            "rifx" => throw new InvalidAudioException(path, "big-endian WAV (RIFX) is not read; convert it to WAV, e.g. `sox in.wav -L out.wav`"),
            _ => throw new InvalidAudioException(path, "not a readable audio file (WAV, AIFF, MP3 and Ogg Vorbis are read; the file starts with none of their signatures); " +
                "if it is audio, convert it to WAV, e.g. `ffmpeg -i in out.wav`, or for headerless samples `sox -t raw -r RATE -e signed -b 16 -c 1 in.raw out.wav`"),
        };
    }

    static string Sniff(ReadOnlySpan<byte> head)
    {
        static bool At(ReadOnlySpan<byte> b, int offset, string text) =>
            b.Length >= offset + text.Length && b.Slice(offset, text.Length).SequenceEqual(System.Text.Encoding.ASCII.GetBytes(text));
        if ((At(head, 0, "RIFF") || At(head, 0, "RF64")) && (head.Length < 12 || At(head, 8, "WAVE"))) return "wav";
        if (At(head, 0, "RIFX")) return "rifx";
        if (At(head, 0, "FORM") && (At(head, 8, "AIFF") || At(head, 8, "AIFC"))) return "aiff";
        // an Ogg stream names its codec in its first packet, from byte 28
        if (At(head, 0, "OggS")) return At(head, 28, "OpusHead") ? "opus" : At(head, 29, "FLAC") ? "flac" : "ogg";
        if (At(head, 0, ".snd")) return "au";
        if (At(head, 0, "fLaC")) return "flac";
        if (At(head, 0, "ID3") || head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0) return "mp3";
        return "unknown";
    }

    static Decoded ReadPcm(string path, Stream stream, string kind, Func<int, long> start, Func<int, long?> count)
    {
        WaveStream reader;
        try { reader = kind == "wav" ? new WaveFileReader(stream) : new AiffFileReader(stream); }
        catch (EndOfStreamException)
        {
            throw new InvalidAudioException(path, $"truncated: the {(kind == "wav" ? "WAV" : "AIFF")} header ends before its format and sample chunks do ({stream.Length} bytes)");
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or NotSupportedException or IOException or OverflowException)
        {
            throw new InvalidAudioException(path, $"not a readable {(kind == "wav" ? "WAV" : "AIFF")} file ({e.Message.TrimEnd('.')})");
        }
        using (reader)
        {
            var format = reader.WaveFormat;
            var (rate, channels) = (format.SampleRate, format.Channels);
            var (encoding, bits) = CheckFormat(format, path);
            // NAudio shortens a data chunk that runs past the end of the file; the header's own size says so. A writer
            // that cannot seek back (sox or ffmpeg into a pipe) leaves a size near 2 GiB: the samples run to the end
            var promised = kind == "wav" ? PromisedDataBytes(stream) : null;
            var dataBytes = reader.Length;
            if (promised is { } size && stream.Position + size > stream.Length)
            {
                if (size < UnknownLength)
                    throw new InvalidAudioException(path, $"truncated: the header promises {size} bytes of samples but the file holds {stream.Length - stream.Position}");
                dataBytes = stream.Length - stream.Position;
            }
            var totalFrames = dataBytes / format.BlockAlign;
            var first = start(rate);
            if (first >= totalFrames)
                throw new InvalidAudioException(path, totalFrames == 0 ? "holds no samples" : $"nothing left after the offset (the file is {(double)totalFrames / rate:0.###} s long)");
            var frames = Math.Min(totalFrames - first, count(rate) ?? long.MaxValue);
            if (frames <= 0) throw new InvalidAudioException(path, "the requested duration contains no samples");
            if (frames * channels > Array.MaxLength || frames * format.BlockAlign > Array.MaxLength)
                throw new InvalidAudioException(path, "too long to load into memory at once");
            var bytes = new byte[frames * format.BlockAlign];
            reader.Position = first * format.BlockAlign;
            var read = reader.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (read < bytes.Length)
                throw new InvalidAudioException(path, $"truncated: the header promises {totalFrames} frames but only {read / format.BlockAlign} from the offset could be read");
            var samples = new float[frames * channels];
            Decode(bytes, samples, encoding, bits); // NAudio's AIFF reader hands out little-endian PCM too
            return new Decoded(samples, rate, channels, totalFrames);
        }
    }

    /// <summary>
    /// The encoding and bits of a WAV or AIFF format, if this reader decodes it: PCM 8/16/24/32-bit or float 32/64-bit,
    /// plain or WAVE_FORMAT_EXTENSIBLE, with a consistent block size.
    /// </summary>
    internal static (WaveFormatEncoding Encoding, int Bits) CheckFormat(WaveFormat format, string path)
    {
        var (rate, channels, bits) = (format.SampleRate, format.Channels, format.BitsPerSample);
        if (rate <= 0 || channels <= 0) throw new InvalidAudioException(path, $"header gives {rate} Hz and {channels} channels");
        var encoding = format.Encoding;
        if (encoding == WaveFormatEncoding.Extensible)
        {
            // NAudio keeps the extension as bytes: valid bits (2), channel mask (4), sub-format GUID (16)
            var extra = (format as WaveFormatExtraData)?.ExtraData ?? [];
            var subFormat = extra.Length >= 22 ? new Guid(extra.AsSpan(6, 16)) : Guid.Empty;
            encoding = subFormat == PcmSubFormat ? WaveFormatEncoding.Pcm
                : subFormat == FloatSubFormat ? WaveFormatEncoding.IeeeFloat
                : throw new InvalidAudioException(path, $"WAVE_FORMAT_EXTENSIBLE with sub-format {subFormat} is neither PCM nor float; convert it, e.g. `sox in.wav -e signed -b 16 out.wav`");
        }
        var supported = encoding switch
        {
            WaveFormatEncoding.Pcm => bits is 8 or 16 or 24 or 32,
            WaveFormatEncoding.IeeeFloat => bits is 32 or 64,
            _ => false,
        };
        if (!supported)
            throw new InvalidAudioException(path, $"{Describe(encoding)} at {bits} bits is not read (PCM 8/16/24/32-bit and float 32/64-bit are); convert it, e.g. `sox in.wav -e signed -b 16 out.wav`");
        if (format.BlockAlign != channels * (bits / 8))
            throw new InvalidAudioException(path, $"header is inconsistent: {channels} channels of {bits} bits need {channels * (bits / 8)}-byte frames, the header says {format.BlockAlign}");
        return (encoding, bits);
    }

    /// <summary>
    /// The data chunk's size as its header gives it (the 4 bytes before the samples, where a new reader leaves the
    /// stream); null for RF64, whose sizes live in its ds64 chunk.
    /// </summary>
    static long? PromisedDataBytes(Stream stream)
    {
        var start = stream.Position;
        if (start < 8) return null;
        Span<byte> header = stackalloc byte[8];
        stream.Position = start - 8;
        var got = stream.ReadAtLeast(header, 8, throwOnEndOfStream: false);
        stream.Position = start;
        if (got < 8 || !header[..4].SequenceEqual("data"u8)) return null;
        var size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        return size == uint.MaxValue ? null : size;
    }

    static string Describe(WaveFormatEncoding encoding) => encoding switch
    {
        WaveFormatEncoding.Pcm => "PCM",
        WaveFormatEncoding.IeeeFloat => "IEEE float",
        _ => $"the {encoding} encoding (0x{(int)encoding:x4})",
    };

    /// <summary>Integer PCM scaled by 2^(bits−1) (unsigned 8-bit centred first), as libsndfile, soundfile and librosa read it.</summary>
    internal static void Decode(ReadOnlySpan<byte> bytes, Span<float> samples, WaveFormatEncoding encoding, int bits)
    {
        switch (encoding, bits)
        {
            case (WaveFormatEncoding.Pcm, 8):
                for (var i = 0; i < samples.Length; i++) samples[i] = (bytes[i] - 128) / 128f;
                break;
            case (WaveFormatEncoding.Pcm, 16):
                for (var i = 0; i < samples.Length; i++) samples[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]) / 32768f;
                break;
            case (WaveFormatEncoding.Pcm, 24):
                for (var i = 0; i < samples.Length; i++)
                    samples[i] = ((bytes[3 * i] << 8 | bytes[3 * i + 1] << 16 | bytes[3 * i + 2] << 24) >> 8) / 8388608f;
                break;
            case (WaveFormatEncoding.Pcm, 32):
                for (var i = 0; i < samples.Length; i++) samples[i] = (float)(BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]) / 2147483648.0);
                break;
            case (WaveFormatEncoding.IeeeFloat, 32):
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(samples);
                break;
            default: // float 64
                for (var i = 0; i < samples.Length; i++) samples[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                break;
        }
    }

    /// <summary>A decoder that reads a whole stream; the span is cut afterwards.</summary>
    static Decoded Whole(string path, (List<float> Samples, int Rate, int Channels) decoded, Func<int, long> start, Func<int, long?> count)
    {
        var (all, rate, channels) = decoded;
        if (rate <= 0 || channels <= 0) throw new InvalidAudioException(path, $"stream gives {rate} Hz and {channels} channels");
        var total = all.Count / channels;
        var first = start(rate);
        if (first >= total) throw new InvalidAudioException(path, total == 0 ? "holds no samples" : $"nothing left after the offset (the file is {(double)total / rate:0.###} s long)");
        var frames = Math.Min(total - first, count(rate) ?? long.MaxValue);
        if (frames <= 0) throw new InvalidAudioException(path, "the requested duration contains no samples");
        return new Decoded(all.GetRange((int)(first * channels), (int)(frames * channels)).ToArray(), rate, channels, total);
    }

    static (List<float>, int, int) ReadMp3(string path, Stream stream)
    {
        try
        {
            using var mpeg = new NLayer.MpegFile(stream);
            return (ReadAll(mpeg.ReadSamples), mpeg.SampleRate, mpeg.Channels);
        }
        catch (Exception e) when (e is not InvalidAudioException)
        {
            throw new InvalidAudioException(path, $"not a readable MP3 file ({e.Message.TrimEnd('.')})");
        }
    }

    static (List<float>, int, int) ReadVorbis(string path, Stream stream)
    {
        try
        {
            using var vorbis = new NVorbis.VorbisReader(stream, closeOnDispose: false);
            return (ReadAll(vorbis.ReadSamples), vorbis.SampleRate, vorbis.Channels);
        }
        catch (Exception e) when (e is not InvalidAudioException)
        {
            throw new InvalidAudioException(path, $"not a readable Ogg Vorbis file ({e.Message.TrimEnd('.')}); Ogg Opus and FLAC are not read: convert them to WAV, e.g. `ffmpeg -i in.ogg out.wav`");
        }
    }

    /// <summary>Every sample a decoder's <c>ReadSamples(buffer, offset, count)</c> gives, until it gives none.</summary>
    static List<float> ReadAll(Func<float[], int, int, int> read)
    {
        var all = new List<float>();
        var buffer = new float[8192];
        int n;
        while ((n = read(buffer, 0, buffer.Length)) > 0) all.AddRange(buffer.AsSpan(0, n));
        return all;
    }
}
