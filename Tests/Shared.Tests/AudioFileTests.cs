using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class AudioFileTests
{
    const int Wav = 0x010000, Flac = 0x170000, Ogg = 0x200000;

    static float[] Tone(int length, double frequency, int sampleRate, double amplitude) =>
        Enumerable.Range(0, length).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate))).ToArray();

    [Theory]
    [InlineData(Wav | 0x0005, 1.0 / 128)]     // PCM unsigned 8-bit (WAV's 8-bit encoding)
    [InlineData(Wav | 0x0002, 1.0 / 32768)]   // PCM 16
    [InlineData(Wav | 0x0003, 1.0 / 8388608)] // PCM 24
    [InlineData(Wav | 0x0004, 1e-7)]          // PCM 32
    [InlineData(Wav | 0x0006, 0.0)]           // float
    [InlineData(Flac | 0x0002, 1.0 / 32768)]  // FLAC 16
    [InlineData(Flac | 0x0003, 1.0 / 8388608)]
    public void WrittenThenRead_GivesTheSamplesToTheFormatsQuantisation(int format, double step)
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "tone.audio");
        var clip = new AudioClip(Tone(8000, 441, 16000, 0.7), 16000);
        AudioFile.WriteFormat(path, clip, format);
        var back = AudioFile.Read(path);
        Assert.Equal(16000, back.SampleRate);
        Assert.Equal(clip.Samples.Length, back.Samples.Length);
        // libsndfile writes floats to integers scaled by 2^(b−1) − 1 and reads them back divided by 2^(b−1)
        // (as soundfile and librosa do), so besides half a step of rounding a sample may shrink by |x| steps.
        for (var i = 0; i < clip.Samples.Length; i++)
            Assert.True(Math.Abs(back.Samples[i] - clip.Samples[i]) <= step * (0.5 + Math.Abs(clip.Samples[i])) + 1e-7, $"sample {i}: {back.Samples[i]} vs {clip.Samples[i]}");
    }

    [Fact]
    public void Ogg_RoundTripsAsLossyButFaithfulAudio()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "tone.ogg");
        var clip = new AudioClip(Tone(32000, 440, 16000, 0.5), 16000);
        AudioFile.WriteFormat(path, clip, Ogg | 0x0060);
        var back = AudioFile.Read(path);
        Assert.Equal(clip.Samples.Length, back.Samples.Length);
        double signal = 0, error = 0;
        for (var i = 4000; i < 28000; i++) { signal += clip.Samples[i] * clip.Samples[i]; error += Math.Pow(back.Samples[i] - clip.Samples[i], 2); }
        Assert.True(10 * Math.Log10(signal / error) > 20, "Vorbis should keep a pure tone above 20 dB SNR");
    }

    [Fact]
    public void Read_MatchesPythonsWaveModule_AndMixesStereoToTheMean()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "stereo.wav");
        // an independent writer: Python's standard-library wave module, 16-bit stereo at 8 kHz
        TestData.Python($$"""
            import wave, struct
            w = wave.open(r"{{path}}", "wb")
            w.setnchannels(2); w.setsampwidth(2); w.setframerate(8000)
            w.writeframes(b"".join(struct.pack("<hh", (i * 37) % 20000 - 10000, -((i * 11) % 16000)) for i in range(1000)))
            w.close()
            """);
        var stereo = AudioFile.Read(path, new AudioReadOptions { Mono = false });
        Assert.Equal(2, stereo.Channels);
        Assert.Equal(1000, stereo.Frames);
        Assert.Equal(((5 * 37) % 20000 - 10000) / 32768f, stereo.Samples[10]);
        var mono = AudioFile.Read(path);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(((i * 37) % 20000 - 10000 - (i * 11) % 16000) / 32768f / 2, mono.Samples[i], 1e-7);
    }

    [Fact]
    public void OffsetAndDuration_CutInSeconds()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "ramp.wav");
        var ramp = Enumerable.Range(0, 16000).Select(i => i / 16000f).ToArray();
        AudioFile.Write(path, new AudioClip(ramp, 16000), AudioEncoding.Float32);
        var cut = AudioFile.Read(path, new AudioReadOptions { Offset = 0.25, Duration = 0.5 });
        Assert.Equal(8000, cut.Samples.Length);
        Assert.Equal(4000 / 16000f, cut.Samples[0]);
        Assert.Equal(4000, AudioFile.Read(path, new AudioReadOptions { Offset = 0.75, Duration = 5 }).Samples.Length);
        var e = Assert.Throws<InvalidAudioException>(() => AudioFile.Read(path, new AudioReadOptions { Offset = 2 }));
        Assert.Contains("ramp.wav", e.Message);
        Assert.Contains("offset", e.Message);
    }

    [Fact]
    public void Resample_KeepsFrequencyAmplitudeAndLength()
    {
        var clip = new AudioClip(Tone(44100, 1000, 44100, 0.8), 44100);
        var down = Resampler.Resample(clip, 16000);
        Assert.Equal(16000, down.SampleRate);
        Assert.Equal(16000, down.Samples.Length); // ⌈44100 · 16000/44100⌉
        // project on the 1 kHz sine and cosine away from the edges: amplitude 0.8, no other content
        double s = 0, c = 0, energy = 0;
        for (var i = 2000; i < 14000; i++)
        {
            s += down.Samples[i] * Math.Sin(2 * Math.PI * 1000 * i / 16000.0);
            c += down.Samples[i] * Math.Cos(2 * Math.PI * 1000 * i / 16000.0);
            energy += down.Samples[i] * down.Samples[i];
        }
        var amplitude = 2 * Math.Sqrt(s * s + c * c) / 12000;
        Assert.Equal(0.8, amplitude, 0.005);
        Assert.Equal(amplitude * amplitude / 2, energy / 12000, 0.002); // all energy is in the tone
        // reading with a target rate resamples too
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "44k.wav");
        AudioFile.Write(path, clip, AudioEncoding.Float32);
        Assert.Equal(down.Samples, AudioFile.Read(path, new AudioReadOptions { SampleRate = 16000 }).Samples);
    }

    [Fact]
    public void BadFiles_FailWithTheFileAndTheProblem()
    {
        var dir = TestData.TempDirectory();
        var empty = Path.Combine(dir, "empty.wav");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(empty)).Message);

        var text = Path.Combine(dir, "notes.wav");
        File.WriteAllText(text, "these are not audio samples, just some words in a file");
        Assert.Contains("notes.wav", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(text)).Message);

        var good = Path.Combine(dir, "good.wav");
        AudioFile.Write(good, new AudioClip(Tone(16000, 440, 16000, 0.5), 16000));
        var truncated = Path.Combine(dir, "truncated.wav");
        File.WriteAllBytes(truncated, File.ReadAllBytes(good)[..20000]);
        var error = Assert.Throws<InvalidAudioException>(() => AudioFile.Read(truncated));
        Assert.Contains("truncated", error.Message);

        Assert.Throws<InvalidAudioException>(() => AudioFile.Read(Path.Combine(dir, "missing.wav")));

        // a well-formed RIFF/WAVE file whose encoding tag (0x1234) no decoder knows
        var codec = Path.Combine(dir, "codec.wav");
        TestData.Python($$"""
            import struct
            data = bytes(400)
            fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 16000, 2, 16)
            body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
            open(r"{{codec}}", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
            """);
        Assert.Contains("codec.wav", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(codec)).Message);

        // a float WAV holding a NaN, written byte by byte
        var nan = Path.Combine(dir, "nan.wav");
        TestData.Python($$"""
            import struct
            data = struct.pack("<4f", 0.1, float("nan"), 0.2, 0.3)
            fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
            body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
            open(r"{{nan}}", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
            """);
        Assert.Contains("NaN", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(nan)).Message);
        Assert.Throws<InvalidInputException>(() => AudioFile.Write(Path.Combine(dir, "x.wav"), new AudioClip([float.PositiveInfinity], 8000)));
        Assert.False(File.Exists(Path.Combine(dir, "x.wav")));
    }

    [Fact]
    public void BadFilesReadInParallel_EachGiveTheirOwnReason()
    {
        // libsndfile keeps a failed open's reason in one process-wide slot: read in parallel beside good files,
        // a bad one was sometimes reported as "not a readable audio file (No Error.)" (without the fix, 20,000 reads
        // here give several such reports in a second).
        var dir = TestData.TempDirectory();
        var good = Path.Combine(dir, "good.wav");
        AudioFile.Write(good, new AudioClip(Tone(800, 440, 16000, 0.5), 16000));
        var bad = Path.Combine(dir, "bad.wav");
        File.WriteAllText(bad, "these are not audio samples, just some words in a file");
        var reasons = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 20000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (i % 2 == 0) AudioFile.Read(good);
            else reasons.Add(Assert.Throws<InvalidAudioException>(() => AudioFile.Read(bad)).Message);
        });
        Assert.Equal(10000, reasons.Count);
        Assert.All(reasons, r => Assert.DoesNotContain("No Error", r));
        Assert.Single(reasons.Distinct());
    }
}
