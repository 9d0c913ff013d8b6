using Pipeline.Shared.Errors;
using Pipeline.Shared.Native;

namespace Pipeline.Shared.Audio;

/// <summary>Mono (or multi-channel, interleaved) float samples in [−1, 1] and their sample rate.</summary>
/// <param name="Samples">Samples, interleaved by channel when <paramref name="Channels"/> &gt; 1.</param>
/// <param name="SampleRate">Samples per second per channel.</param>
/// <param name="Channels">Number of interleaved channels.</param>
public sealed record AudioClip(float[] Samples, int SampleRate, int Channels = 1)
{
    /// <summary>Samples per channel.</summary>
    public int Frames => Samples.Length / Channels;

    /// <summary>Length in seconds.</summary>
    public double Duration => (double)Frames / SampleRate;
}

/// <summary>Sample encodings <see cref="AudioFile.Write"/> can produce.</summary>
public enum AudioEncoding
{
    /// <summary>WAV, 16-bit signed PCM.</summary>
    Pcm16,
    /// <summary>WAV, 24-bit signed PCM.</summary>
    Pcm24,
    /// <summary>WAV, 32-bit float.</summary>
    Float32,
}

/// <summary>How <see cref="AudioFile.Read"/> loads a file, like <c>librosa.load</c>'s arguments.</summary>
public sealed record AudioReadOptions
{
    /// <summary>Resample to this rate (libsoxr, high quality); null keeps the file's rate.</summary>
    public int? SampleRate { get; init; }
    /// <summary>Average the channels into one (librosa's default).</summary>
    public bool Mono { get; init; } = true;
    /// <summary>Start reading this many seconds in.</summary>
    public double Offset { get; init; }
    /// <summary>Read at most this many seconds; null reads to the end.</summary>
    public double? Duration { get; init; }
}

/// <summary>
/// Reads WAV (PCM 8/16/24/32-bit, float), FLAC and OGG through libsndfile and writes WAV. Integer PCM is scaled
/// to [−1, 1) as libsndfile (and so soundfile and librosa) does. Every failure is an
/// <see cref="InvalidAudioException"/> naming the file and the problem.
/// </summary>
public static unsafe class AudioFile
{
    static readonly object OpenGate = new();

    /// <summary>Loads <paramref name="path"/>: offset and duration cut in the file's own rate, then mono mix-down, then resampling.</summary>
    public static AudioClip Read(string path, AudioReadOptions? options = null)
    {
        options ??= new AudioReadOptions();
        if (options.Offset < 0 || double.IsNaN(options.Offset)) throw new InvalidOptionException($"offset must be ≥ 0 seconds, got {options.Offset}");
        if (options.Duration is { } d && !(d > 0)) throw new InvalidOptionException($"duration must be positive, got {d} seconds");
        if (options.SampleRate is { } r && r <= 0) throw new InvalidOptionException($"sample rate must be positive, got {r}");
        if (!File.Exists(path)) throw new InvalidAudioException(path, "no such file");
        if (new FileInfo(path).Length == 0) throw new InvalidAudioException(path, "the file is empty");

        var info = new Sndfile.Info();
        IntPtr file;
        string? openError = null;
        // A failed open's reason is libsndfile's process-wide last error: another thread's open would overwrite it
        // before it is read (and a parallel batch reported "No Error."), so the two happen under one lock.
        lock (OpenGate)
        {
            file = Sndfile.Open(path, Sndfile.ModeRead, ref info);
            if (file == IntPtr.Zero) openError = Sndfile.Error(IntPtr.Zero);
        }
        if (file == IntPtr.Zero) throw new InvalidAudioException(path, $"not a readable audio file ({openError})");
        float[] samples;
        int channels = info.Channels, rate = info.SampleRate;
        try
        {
            if (rate <= 0 || channels <= 0) throw new InvalidAudioException(path, $"header gives {rate} Hz and {channels} channels");
            // libsndfile quietly shortens a WAV/AIFF whose data chunk runs past the end of the file; its log says so.
            var shortened = Sndfile.Log(file).Split('\n').FirstOrDefault(line => line.StartsWith("data", StringComparison.Ordinal) && line.Contains("should be", StringComparison.Ordinal));
            if (shortened is not null)
                throw new InvalidAudioException(path, $"truncated: the header's sample data size does not match the file ({shortened.Trim()})");
            var start = (long)Math.Round(options.Offset * rate);
            if (start >= info.Frames)
                throw new InvalidAudioException(path, $"nothing left after an offset of {options.Offset} s (the file is {(double)info.Frames / rate:0.###} s long)");
            var count = info.Frames - start;
            if (options.Duration is { } seconds) count = Math.Min(count, (long)Math.Round(seconds * rate));
            if (count <= 0) throw new InvalidAudioException(path, "the requested duration contains no samples");
            if (count * channels > Array.MaxLength) throw new InvalidAudioException(path, "too long to load into memory at once");
            if (start > 0 && Sndfile.Seek(file, start, 0) != start) throw new InvalidAudioException(path, $"cannot seek to {options.Offset} s ({Sndfile.Error(file)})");
            samples = new float[count * channels];
            long read;
            fixed (float* p = samples) read = Sndfile.ReadFrames(file, p, count);
            if (read < count)
                throw new InvalidAudioException(path, $"truncated: the header promises {count} frames from the offset but only {read} could be read");
        }
        finally
        {
            Sndfile.Close(file);
        }
        var bad = Array.FindIndex(samples, s => !float.IsFinite(s));
        if (bad >= 0) throw new InvalidAudioException(path, $"sample {bad / channels} (channel {bad % channels}) is {samples[bad]}");
        var clip = new AudioClip(samples, rate, channels);
        if (options.Mono) clip = MixDown(clip);
        if (options.SampleRate is { } target && target != rate) clip = Resampler.Resample(clip, target);
        return clip;
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

    /// <summary>Writes a WAV file atomically (a temporary name, then a rename).</summary>
    public static void Write(string path, AudioClip clip, AudioEncoding encoding = AudioEncoding.Pcm16)
    {
        var subtype = encoding switch
        {
            AudioEncoding.Pcm16 => Sndfile.Pcm16,
            AudioEncoding.Pcm24 => Sndfile.Pcm24,
            _ => Sndfile.Float,
        };
        WriteFormat(path, clip, Sndfile.FormatWav | subtype);
    }

    /// <summary>Writes any libsndfile format code (container | encoding); the tests use it for FLAC, OGG and 8/32-bit PCM.</summary>
    internal static void WriteFormat(string path, AudioClip clip, int format)
    {
        if (clip.SampleRate <= 0 || clip.Channels <= 0 || clip.Samples.Length % clip.Channels != 0)
            throw new InvalidInputException($"cannot write {clip.Samples.Length} samples as {clip.Channels} channels at {clip.SampleRate} Hz");
        var bad = Array.FindIndex(clip.Samples, s => !float.IsFinite(s));
        if (bad >= 0) throw new InvalidInputException($"cannot write {path}: sample {bad} is {clip.Samples[bad]}");
        var full = Path.GetFullPath(path);
        try { Directory.CreateDirectory(Path.GetDirectoryName(full)!); }
        catch (Exception e) when (Files.IoErrors.IsIo(e)) { throw new OutputWriteException(path, Files.IoErrors.Reason(e), e); }
        // libsndfile writes to a path, so the atomic rename is done here rather than through AtomicFile.
        var temporary = Files.AtomicFile.Sibling(full, "tmp");
        var info = new Sndfile.Info { SampleRate = clip.SampleRate, Channels = clip.Channels, Format = format };
        if (Sndfile.FormatCheck(ref info) == 0) throw new InvalidOptionException($"libsndfile cannot write format 0x{format:x} with {clip.Channels} channels at {clip.SampleRate} Hz");
        var file = Sndfile.Open(temporary, Sndfile.ModeWrite, ref info);
        if (file == IntPtr.Zero) throw new OutputWriteException(path, Sndfile.Error(IntPtr.Zero));
        try
        {
            long written;
            fixed (float* p = clip.Samples) written = Sndfile.WriteFrames(file, p, clip.Frames);
            if (written != clip.Frames) throw new InvalidFileException(path, $"only {written} of {clip.Frames} frames were written ({Sndfile.Error(file)})");
        }
        catch
        {
            Sndfile.Close(file);
            File.Delete(temporary);
            throw;
        }
        if (Sndfile.Close(file) != 0) { File.Delete(temporary); throw new InvalidFileException(path, "libsndfile failed to finish the file"); }
        try { File.Move(temporary, full, overwrite: true); }
        catch (Exception e) when (Files.IoErrors.IsIo(e)) { File.Delete(temporary); throw new OutputWriteException(path, Files.IoErrors.Reason(e), e); }
    }
}
