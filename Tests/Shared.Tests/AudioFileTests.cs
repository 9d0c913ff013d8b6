using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class AudioFileTests
{
    static float[] Tone(int length, double frequency, int sampleRate, double amplitude) =>
        Enumerable.Range(0, length).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate))).ToArray();

    /// <summary>sox, an independent writer of every encoding (installed by ./run test); -D: no dither.</summary>
    [Theory]
    [InlineData("unsigned", 8, 1, 1.0 / 128)]
    [InlineData("signed", 16, 1, 1.0 / 32768)]
    [InlineData("signed", 16, 3, 1.0 / 32768)] // 3 channels: WAVE_FORMAT_EXTENSIBLE
    [InlineData("signed", 24, 1, 1.0 / 8388608)] // sox writes 24-bit as WAVE_FORMAT_EXTENSIBLE
    [InlineData("signed", 32, 2, 1e-7)]
    [InlineData("floating-point", 32, 1, 0.0)]
    [InlineData("floating-point", 64, 2, 0.0)]
    public void EveryWavEncoding_WrittenBySox_ReadsBackToItsQuantisation(string encoding, int bits, int channels, double step)
    {
        var dir = TestData.TempDirectory();
        var source = Path.Combine(dir, "source.wav");
        var frames = 8000;
        var samples = new float[frames * channels];
        for (var c = 0; c < channels; c++)
        {
            var tone = Tone(frames, 441 * (c + 1), 16000, 0.7 / (c + 1));
            for (var i = 0; i < frames; i++) samples[i * channels + c] = tone[i];
        }
        var clip = new AudioClip(samples, 16000, channels);
        AudioFile.Write(source, clip, AudioEncoding.Float32);
        var path = Path.Combine(dir, "converted.wav");
        TestData.Sox("-D", source, "-e", encoding, "-b", bits.ToString(), path);
        if (bits > 16 && bits != 32 && encoding == "signed" || channels > 2)
            Assert.Equal(0xFFFE, BitConverter.ToUInt16(File.ReadAllBytes(path), 20)); // the header really is extensible
        var back = AudioFile.Read(path, new AudioReadOptions { Mono = false });
        Assert.Equal((16000, channels), (back.SampleRate, back.Channels));
        Assert.Equal(clip.Samples.Length, back.Samples.Length);
        // integers scaled by 2^(b−1) on the way in and out, rounded: half a step, and |x| steps of scale difference
        for (var i = 0; i < clip.Samples.Length; i++)
            Assert.True(Math.Abs(back.Samples[i] - clip.Samples[i]) <= step * (0.5 + Math.Abs(clip.Samples[i])) + 1e-7, $"sample {i}: {back.Samples[i]} vs {clip.Samples[i]}");
    }

    [Theory]
    [InlineData(AudioEncoding.Pcm16, 1.0 / 32768)]
    [InlineData(AudioEncoding.Pcm24, 1.0 / 8388608)]
    [InlineData(AudioEncoding.Float32, 0.0)]
    public void WrittenWav_ReadsBackBySox_AndByUs(AudioEncoding encoding, double step)
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "tone.wav");
        var clip = new AudioClip(Tone(8000, 441, 16000, 0.7), 16000);
        AudioFile.Write(path, clip, encoding);
        var back = AudioFile.Read(path);
        for (var i = 0; i < clip.Samples.Length; i++)
            Assert.True(Math.Abs(back.Samples[i] - clip.Samples[i]) <= step * (0.5 + Math.Abs(clip.Samples[i])) + 1e-7, $"sample {i}");
        // sox reads what we wrote as the same audio (its float output, compared through our float reader)
        var viaSox = Path.Combine(dir, "via-sox.wav");
        TestData.Sox(path, "-e", "floating-point", "-b", "32", viaSox);
        Assert.Equal(back.Samples.Length, AudioFile.Read(viaSox).Samples.Length);
        Assert.True(TestData.MaxRelativeError(AudioFile.Read(viaSox).Samples, back.Samples) < 1e-4);
    }

    [Theory]
    [InlineData("ogg", 20)]
    [InlineData("mp3", 15)]
    public void LossyFormats_DecodeAsFaithfulAudio(string extension, double minimumSnr)
    {
        var dir = TestData.TempDirectory();
        var source = Path.Combine(dir, "tone.wav");
        var clip = new AudioClip(Tone(32000, 440, 16000, 0.5), 16000);
        AudioFile.Write(source, clip, AudioEncoding.Float32);
        var path = Path.Combine(dir, "tone." + extension);
        TestData.Sox(source, path);
        var back = AudioFile.Read(path);
        Assert.Equal(16000, back.SampleRate);
        // MP3 encoders add a delay (encoder and decoder padding): align on the best lag before measuring
        var lag = Enumerable.Range(0, 3000).MaxBy(l => Enumerable.Range(8000, 4000).Sum(i => i + l < back.Samples.Length ? (double)clip.Samples[i] * back.Samples[i + l] : 0));
        double signal = 0, error = 0;
        for (var i = 6000; i < 24000; i++) { signal += clip.Samples[i] * clip.Samples[i]; error += Math.Pow(back.Samples[i + lag] - clip.Samples[i], 2); }
        Assert.True(10 * Math.Log10(signal / error) > minimumSnr, $"{extension}: SNR {10 * Math.Log10(signal / error):F1} dB at lag {lag}");
    }

    [Fact]
    public void Aiff_IsRead_AndFlacIsRefusedWithAConverter()
    {
        var dir = TestData.TempDirectory();
        var source = Path.Combine(dir, "tone.wav");
        var clip = new AudioClip(Tone(8000, 441, 16000, 0.5), 16000);
        AudioFile.Write(source, clip);
        var aiff = Path.Combine(dir, "tone.aiff");
        TestData.Sox(source, aiff);
        Assert.Equal(AudioFile.Read(source).Samples, AudioFile.Read(aiff).Samples); // the same 16-bit samples, big-endian on disk
        var flac = Path.Combine(dir, "tone.flac");
        TestData.Sox(source, flac);
        var e = Assert.Throws<InvalidAudioException>(() => AudioFile.Read(flac));
        Assert.Equal($"{flac}: FLAC is not read here (no managed FLAC decoder is used); convert it to WAV, e.g. `sox in.flac out.wav` or `ffmpeg -i in.flac out.wav`", e.Message);
    }

    [Fact]
    public void OtherFormats_AreNamedWithAConverter()
    {
        var dir = TestData.TempDirectory();
        var source = Path.Combine(dir, "tone.wav");
        AudioFile.Write(source, new AudioClip(Tone(8000, 441, 16000, 0.5), 16000));
        var au = Path.Combine(dir, "tone.au");
        TestData.Sox(source, au);
        Assert.Equal($"{au}: Sun/NeXT audio (.au, .snd) is not read; convert it to WAV, e.g. `sox in.au out.wav`", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(au)).Message);
        // an Ogg page whose first packet is Opus's identification header (sox writes no Opus)
        var opus = Path.Combine(dir, "voice.opus");
        File.WriteAllBytes(opus, [.. "OggS"u8, .. new byte[24], .. "OpusHead"u8, 1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        Assert.Equal($"{opus}: Ogg Opus is not read here (no managed Opus decoder is used); convert it to WAV, e.g. `ffmpeg -i in.opus out.wav`", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(opus)).Message);
        var raw = Path.Combine(dir, "samples.raw");
        TestData.Sox(source, "-t", "raw", raw);
        Assert.Contains("headerless samples `sox -t raw -r RATE", Assert.Throws<InvalidAudioException>(() => AudioFile.Read(raw)).Message);
    }

    [Fact]
    public void WavWrittenIntoAPipe_IsReadToItsEnd()
    {
        // sox writing a signal of unknown length into a pipe cannot go back to fill in the sizes: its header says
        // 0x7FFFF000 bytes of data. The same signal written to a file has the right sizes.
        var dir = TestData.TempDirectory();
        var (source, piped) = (Path.Combine(dir, "tone.wav"), Path.Combine(dir, "piped.wav"));
        const string synth = "-D -n -r 16000 -c 1 -b 16 -t wav {0} synth 0.5 sine 441";
        TestData.Sox(string.Format(synth, source).Split(' '));
        var start = new System.Diagnostics.ProcessStartInfo("sh", ["-c", $"sox {string.Format(synth, "-")} 2>/dev/null | cat > '{piped}'"]);
        using (var sox = System.Diagnostics.Process.Start(start)!) sox.WaitForExit();
        var bytes = File.ReadAllBytes(piped);
        Assert.Equal(0x7FFFF000u, BitConverter.ToUInt32(bytes, bytes.AsSpan().IndexOf("data"u8) + 4));
        Assert.Equal(AudioFile.Read(source).Samples, AudioFile.Read(piped).Samples);
        Assert.Equal(AudioFile.Read(source, new AudioReadOptions { Offset = 0.25 }).Samples, AudioFile.Read(piped, new AudioReadOptions { Offset = 0.25 }).Samples);
    }

    [Fact]
    public void UnusualButLegalChunks_AreSkipped()
    {
        // LIST and fact chunks before the data, an odd-sized chunk with its pad byte, a chunk after the data
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "chunks.wav");
        TestData.Python($$"""
            import struct
            data = struct.pack("<4h", 1000, -1000, 2000, -2000)
            fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
            def chunk(tag, body): return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")
            body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 5) + b"test\0\0")                 + chunk(b"odd ", b"abc") + chunk(b"fact", struct.pack("<I", 4)) + chunk(b"data", data) + chunk(b"junk", b"tail!")
            open(r"{{path}}", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
            """);
        Assert.Equal([1000 / 32768f, -1000 / 32768f, 2000 / 32768f, -2000 / 32768f], AudioFile.Read(path).Samples);
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

    /// <summary>
    /// Against <c>sox rate -v</c> (its very-high-quality filter), an independent resampler: a sweep and white noise, both
    /// band-limited to 80 % of the lower rate's Nyquist frequency, agree to 72–90 dB SNR (measured beside
    /// each case; the test holds a few dB less). Closer to Nyquist the two filters' transition bands differ by design.
    /// </summary>
    [Theory]
    [InlineData("sine 20:BAND", 44100, 16000, 85)] // measured 90.4 dB
    [InlineData("whitenoise", 44100, 16000, 85)]   // 90.2
    [InlineData("sine 20:BAND", 16000, 44100, 69)] // 72.5
    [InlineData("whitenoise", 22050, 16000, 74)]   // 77.9
    public void Resample_AgreesWithSoxWithinThePassband(string signal, int from, int to, double minimumSnr)
    {
        var dir = TestData.TempDirectory();
        var input = Path.Combine(dir, "in.wav");
        var reference = Path.Combine(dir, "sox.wav");
        var band = (0.4 * Math.Min(from, to)).ToString("0"); // 80 % of the lower Nyquist frequency
        TestData.Sox(["-n", "-r", from.ToString(), "-c", "1", "-e", "floating-point", "-b", "32", input, "synth", "3", .. signal.Replace("BAND", band).Split(' '), "vol", "0.5", "sinc", "-" + band]);
        TestData.Sox(input, "-e", "floating-point", "-b", "32", reference, "rate", "-v", to.ToString());
        var ours = Resampler.Resample(AudioFile.Read(input), to).Samples;
        var sox = AudioFile.Read(reference).Samples;
        Assert.Equal((int)Math.Ceiling(3.0 * from * to / from), ours.Length);
        Assert.True(Math.Abs(sox.Length - ours.Length) <= 1, $"sox {sox.Length}, ours {ours.Length}");
        double signalEnergy = 0, noiseEnergy = 0;
        for (var i = to / 10; i < Math.Min(sox.Length, ours.Length) - to / 10; i++) // away from the edges
        {
            signalEnergy += sox[i] * (double)sox[i];
            noiseEnergy += (sox[i] - ours[i]) * (double)(sox[i] - ours[i]);
        }
        var snr = 10 * Math.Log10(signalEnergy / noiseEnergy);
        Assert.True(snr >= minimumSnr, $"{signal} {from} → {to} Hz: {snr:F1} dB against sox");
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
        // cut inside the fmt chunk: NAudio runs out of header; that is a truncation too, not an unreadable format
        var cutHeader = Path.Combine(dir, "cut-header.wav");
        File.WriteAllBytes(cutHeader, File.ReadAllBytes(good)[..30]);
        Assert.Equal($"{cutHeader}: truncated: the WAV header ends before its format and sample chunks do (30 bytes)",
            Assert.Throws<InvalidAudioException>(() => AudioFile.Read(cutHeader)).Message);

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
        // a reader that keeps a failed open's reason in process-wide state (libsndfile did) reported a bad file read in
        // parallel beside good ones as "not a readable audio file (No Error.)": each reason must be the file's own.
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
