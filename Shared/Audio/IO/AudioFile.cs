using Pipeline.Shared.Errors;
using System.Buffers.Binary;
using NAudio.Wave;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Reads WAV (PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE, RF64), AIFF, MP3 and Ogg Vorbis with
/// managed decoders (NAudio, NLayer, NVorbis; <see cref="AudioDecoders"/>) and writes WAV with NAudio. Integer PCM
/// is scaled to [−1, 1) as libsndfile (and so soundfile and librosa) reads it. Every failure is an
/// <see cref="InvalidAudioException"/> naming the file and the problem. Thread-safe.
/// </summary>
public static class AudioFile
{
    /// <summary>Loads <paramref name="path"/>: offset and duration cut in the file's own rate, then mono mix-down, then resampling.</summary>
    public static AudioClip Read(string path, AudioReadOptions? options = null)
    {
        options ??= new AudioReadOptions();
        CheckOptions(options);
        if (Directory.Exists(path)) throw new InvalidAudioException(path, "is a folder, not an audio file");
        if (!File.Exists(path)) throw new InvalidAudioException(path, "no such file");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return Decode(stream, path, options);
        }
        catch (Exception e) when (Files.IoErrors.IsIo(e))
        {
            throw new InvalidAudioException(path, $"cannot be read ({Files.IoErrors.Reason(e, writing: false)})", e);
        }
    }

    /// <summary>
    /// Decodes a whole file held in <paramref name="stream"/> (seekable; a request body, say), as <see cref="Read(string, AudioReadOptions?)"/>
    /// reads a file, with the same checks and messages; <paramref name="source"/> names it in errors.
    /// </summary>
    public static AudioClip Read(Stream stream, string source, AudioReadOptions? options = null)
    {
        options ??= new AudioReadOptions();
        CheckOptions(options);
        if (!stream.CanSeek) throw new ArgumentException("the stream must be seekable (copy it into a MemoryStream first)", nameof(stream));
        return Decode(stream, source, options);
    }

    static void CheckOptions(AudioReadOptions options)
    {
        if (options.Offset < 0 || double.IsNaN(options.Offset)) throw new InvalidOptionException($"offset must be ≥ 0 seconds, got {options.Offset}");
        if (options.Duration is { } d && !(d > 0)) throw new InvalidOptionException($"duration must be positive, got {d} seconds");
        if (options.SampleRate is { } r && r <= 0) throw new InvalidOptionException($"sample rate must be positive, got {r}");
    }

    static AudioClip Decode(Stream stream, string source, AudioReadOptions options)
    {
        if (stream.Length == 0) throw new InvalidAudioException(source, "the file is empty");
        var decoded = AudioDecoders.Read(source, stream,
            rate => (long)Math.Round(options.Offset * rate),
            rate => options.Duration is { } seconds ? (long)Math.Round(seconds * rate) : null);
        var clip = new AudioClip(decoded.Samples, decoded.SampleRate, decoded.Channels);
        RequireFinite(clip, source);
        if (options.Mono) clip = MixDown(clip);
        if (options.SampleRate is { } target && target != clip.SampleRate) clip = Resampler.Resample(clip, target);
        return clip;
    }

    /// <summary>Refuses a clip holding a NaN or infinite sample, naming the sample (frame) and channel.</summary>
    /// <exception cref="InvalidAudioException">A sample is not finite.</exception>
    public static void RequireFinite(AudioClip clip, string source)
    {
        var bad = Array.FindIndex(clip.Samples, s => !float.IsFinite(s));
        if (bad >= 0) throw new InvalidAudioException(source, $"sample {bad / clip.Channels} (channel {bad % clip.Channels}) is {clip.Samples[bad]}");
    }

    /// <summary>The mean of the channels.</summary>
    public static AudioClip MixDown(AudioClip clip)
    {
        if (clip.Channels == 1) return clip;
        var mono = new float[clip.Frames];
        for (var i = 0; i < mono.Length; i++)
        {
            float s = 0;
            for (var c = 0; c < clip.Channels; c++) s += clip.Samples[i * clip.Channels + c];
            mono[i] = s / clip.Channels;
        }
        return new AudioClip(mono, clip.SampleRate);
    }

    /// <summary>
    /// Writes a WAV file atomically (a temporary name, then a rename): PCM scaled by 2^(bits−1) − 1 with rounding and
    /// clipping at full scale (libsndfile's write convention), or float.
    /// </summary>
    /// <exception cref="InvalidInputException">The clip's shape is inconsistent or a sample is NaN or infinite.</exception>
    public static void Write(string path, AudioClip clip, AudioEncoding encoding = AudioEncoding.Pcm16)
    {
        if (clip.SampleRate <= 0 || clip.Channels <= 0 || clip.Samples.Length % clip.Channels != 0)
            throw new InvalidInputException($"cannot write {clip.Samples.Length} samples as {clip.Channels} channels at {clip.SampleRate} Hz");
        var bad = Array.FindIndex(clip.Samples, s => !float.IsFinite(s));
        if (bad >= 0) throw new InvalidInputException($"cannot write {path}: sample {bad} is {clip.Samples[bad]}");
        var format = encoding switch
        {
            AudioEncoding.Pcm16 => new WaveFormat(clip.SampleRate, 16, clip.Channels),
            AudioEncoding.Pcm24 => new WaveFormat(clip.SampleRate, 24, clip.Channels),
            _ => WaveFormat.CreateIeeeFloatWaveFormat(clip.SampleRate, clip.Channels),
        };
        var bytes = Encode(clip.Samples, encoding);
        // NAudio's writer patches the sizes and closes its stream on disposal: it writes into memory, whose bytes
        // ToArray still gives afterwards, and the file is then written atomically
        var memory = new MemoryStream(bytes.Length + 64);
        using (var writer = new WaveFileWriter(memory, format)) writer.Write(bytes);
        Files.AtomicFile.WriteAllBytes(path, memory.ToArray());
    }

    static byte[] Encode(float[] samples, AudioEncoding encoding)
    {
        switch (encoding)
        {
            case AudioEncoding.Pcm16:
            {
                var bytes = new byte[samples.Length * 2];
                for (var i = 0; i < samples.Length; i++)
                    BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * i), (short)Math.Clamp(MathF.Round(samples[i] * 32767f), -32768f, 32767f));
                return bytes;
            }
            case AudioEncoding.Pcm24:
            {
                var bytes = new byte[samples.Length * 3];
                for (var i = 0; i < samples.Length; i++)
                {
                    var v = (int)Math.Clamp(Math.Round(samples[i] * 8388607.0), -8388608, 8388607);
                    (bytes[3 * i], bytes[3 * i + 1], bytes[3 * i + 2]) = ((byte)v, (byte)(v >> 8), (byte)(v >> 16));
                }
                return bytes;
            }
            default:
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(samples.AsSpan()).ToArray();
        }
    }
}
