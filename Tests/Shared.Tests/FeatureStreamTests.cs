using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;

namespace Pipeline.Shared.Tests;

/// <summary>Alone, not beside other test classes: one test measures the heap, which other tests' allocations would move.</summary>
[CollectionDefinition(nameof(FeatureStreamTests), DisableParallelization = true)]
public sealed class HeapMeasuringCollection;

/// <summary>Features of a stream fed in chunks against the whole clip's (the reference: <see cref="FeatureExtractor.Extract"/>).</summary>
[Collection(nameof(FeatureStreamTests))]
public class FeatureStreamTests
{
    static float[] Noise(int length, int seed)
    {
        var random = new Random(seed);
        // a tone under noise, with a burst: frames differ from each other, so a misplaced row shows
        return Enumerable.Range(0, length).Select(i => (float)(0.3 * Math.Sin(i * 0.07) + 0.1 * (random.NextDouble() - 0.5) + (i % 5000 < 300 ? 0.4 * (random.NextDouble() - 0.5) : 0))).ToArray();
    }

    /// <summary>Every row the stream gives, in order: Push for each chunk, then Complete.</summary>
    static NdArray Streamed(FeatureExtractor extractor, float[] signal, Func<int, int> chunkSize)
    {
        var stream = new FeatureStream(extractor);
        var rows = new List<float>();
        var count = 0;
        for (int at = 0, i = 0; at < signal.Length; i++)
        {
            var n = Math.Min(chunkSize(i), signal.Length - at);
            var part = stream.Push(signal.AsSpan(at, n));
            Assert.Equal(extractor.Config.Dimensions, part.Columns);
            rows.AddRange(part.Data);
            count += part.Rows;
            at += n;
            Assert.Equal(count, stream.RowsEmitted);
        }
        var last = stream.Complete();
        rows.AddRange(last.Data);
        return new NdArray([count + last.Rows, extractor.Config.Dimensions], rows.ToArray());
    }

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var config in new[] { "dcase", "dcase-reflect", "mcep", "magnitude-uncentred", "mel-after-only" })
            foreach (var chunk in new[] { 1, 160, 1000, 16000, 0 }) // 0: random sizes from 1 to 3000
                data.Add(config, chunk);
        return data;
    }

    static FrontEndConfig Config(string name) => name switch
    {
        "dcase" => FrontEndConfig.Preset("dcase-logmel"),
        "dcase-reflect" => FrontEndConfig.DcaseLogMel with { PadMode = PadMode.Reflect, NMels = 32 },
        "mcep" => FrontEndConfig.Preset("vae-mcep") with { ContextBefore = 2, ContextAfter = 3 },
        "magnitude-uncentred" => new SpectrogramOptions { NFft = 400, HopLength = 150, Center = false },
        "mel-after-only" => new MelSpectrogramOptions { NMels = 20, ContextAfter = 4 },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StreamedRows_EqualTheWholeClipsBitForBit(string config, int chunk)
    {
        var extractor = new FeatureExtractor(Config(config));
        var signal = Noise(20_011, 7);
        var random = new Random(chunk + 1);
        var streamed = Streamed(extractor, signal, _ => chunk > 0 ? chunk : random.Next(1, 3000));
        var whole = extractor.Extract(new AudioClip(signal, 16000));
        Assert.Equal(whole.Shape, streamed.Shape);
        Assert.Equal(whole.Data, streamed.Data); // exact: the same code on the same samples
    }

    [Fact]
    public void RowsArriveAsSoonAsTheirContextIsKnown()
    {
        // dcase: n_fft 512, hop 160, 10 + 10 context frames. Frame t is final at t·160 + 256 samples; row t reads
        // frames up to t + 9, and the first row needs frames 0 … 9 (its mirrored start) as well.
        var stream = new FeatureStream(new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel")));
        var signal = Noise(4000, 3);
        Assert.Equal(0, stream.Push(signal.AsSpan(0, 9 * 160 + 255)).Rows);
        Assert.Equal(1, stream.Push(signal.AsSpan(9 * 160 + 255, 1)).Rows); // frame 9 final: row 0
        Assert.Equal(0, stream.Push(signal.AsSpan(9 * 160 + 256, 159)).Rows);
        Assert.Equal(1, stream.Push(signal.AsSpan(10 * 160 + 255, 1)).Rows); // frame 10: row 1
        Assert.Equal(2, stream.RowsEmitted);
    }

    [Fact]
    public void AnHourLongStream_KeepsItsMemoryBounded()
    {
        var stream = new FeatureStream(new FeatureExtractor(FrontEndConfig.DcaseLogMel with { NMels = 8 }));
        var chunk = Noise(16_000, 5);
        long rows = 0;
        for (var second = 0; second < 60; second++) rows += stream.Push(chunk).Rows;
        GC.Collect();
        var memory = GC.GetTotalMemory(true);
        for (var second = 0; second < 600; second++) rows += stream.Push(chunk).Rows;
        GC.Collect();
        // ten more minutes of audio (9.6 M samples, 60,000 rows of 160 values) leave the heap where it was
        Assert.True(GC.GetTotalMemory(true) - memory < 2_000_000, $"the heap grew by {GC.GetTotalMemory(true) - memory} bytes");
        Assert.Equal((660 * 16000 - 256) / 160 + 1 - 9, rows); // frames final so far, less the 9 whose context is to come
    }

    [Fact]
    public void BadStreams_AreRefusedAsTheWholeClipIs()
    {
        var extractor = new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel"));
        string Whole(float[] s) => Assert.Throws<InvalidAudioException>(() => extractor.Extract(new AudioClip(s, 16000), "stream")).Message;
        string Stream(float[] s)
        {
            var stream = new FeatureStream(extractor);
            stream.Push(s);
            return Assert.Throws<InvalidAudioException>(() => stream.Complete()).Message;
        }
        foreach (var length in new[] { 0, 1, 1439 }) // empty; shorter than the context (1440 samples give 10 frames)
            Assert.Equal(Whole(Noise(length, 1)), Stream(Noise(length, 1)));
        // shorter than one frame, centred (where padding alone would fill it) or not: no rows, then the clip's refusal
        foreach (var options in new[] { new MelSpectrogramOptions { PadMode = PadMode.Reflect }, new MelSpectrogramOptions(), new MelSpectrogramOptions { Center = false } })
        {
            var shortStream = new FeatureStream(new FeatureExtractor(options));
            Assert.Equal(0, shortStream.Push(Noise(511, 1)).Rows);
            Assert.Equal("stream: is too short: 511 samples are fewer than one frame of n_fft = 512 (0.032 s at 16000 Hz)", Assert.Throws<InvalidAudioException>(() => shortStream.Complete()).Message);
            Assert.Equal("stream: is too short: 511 samples are fewer than one frame of n_fft = 512 (0.032 s at 16000 Hz)",
                Assert.Throws<InvalidAudioException>(() => new FeatureExtractor(options).Extract(new AudioClip(Noise(511, 1), 16000), "stream")).Message);
        }

        var withNaN = new FeatureStream(extractor);
        withNaN.Push(Noise(5000, 1));
        var bad = Noise(100, 2);
        bad[40] = float.NaN;
        Assert.Equal("stream: sample 5040 is NaN", Assert.Throws<InvalidAudioException>(() => withNaN.Push(bad)).Message);

        var loud = new FeatureStream(new FeatureExtractor(new SpectrogramOptions { Power = 2 }));
        var huge = Noise(3000, 3).Select(x => x * 1e30f).ToArray();
        Assert.Contains("gives non-finite features", Assert.Throws<InvalidAudioException>(() => loud.Push(huge)).Message);

        var mfcc = Assert.Throws<InvalidOptionException>(() => new FeatureStream(new FeatureExtractor(FrontEndConfig.Preset("librosa-mfcc"))));
        Assert.Contains("MFCC features cannot be streamed", mfcc.Message);
        var done = new FeatureStream(extractor);
        done.Push(Noise(2000, 1));
        done.Complete();
        Assert.Throws<InvalidOperationException>(() => done.Push(Noise(10, 1)));
    }

    [Theory]
    [InlineData("max", 0)]
    [InlineData("max", 3)]
    [InlineData("mean", 0)]
    [InlineData("mean", 1)]
    [InlineData("mean", 10)]
    [InlineData("top-10%", 0)]
    [InlineData("top-2.5%", 5)]
    public void RunningScore_EqualsTheAggregateOfEveryPrefixExactly(string aggregation, int trim)
    {
        var random = new Random(trim * 7 + aggregation.Length);
        var errors = Enumerable.Range(0, 400).Select(_ => (float)(random.NextDouble() * 10 - 3)).ToArray();
        var running = new RunningFrameScore(aggregation, trim);
        Assert.True(double.IsNaN(running.Score));
        for (var n = 1; n <= errors.Length; n++)
        {
            running.Add(errors[n - 1]);
            Assert.Equal(FrameScores.Aggregate(errors.AsSpan(0, n), aggregation, trim), running.Score);
        }
        Assert.Throws<InvalidOptionException>(() => new RunningFrameScore("median", 0));
        Assert.Throws<InvalidOptionException>(() => new RunningFrameScore("max", -1));
    }

    [Fact]
    public void TopFraction_IsTheMeanOfTheHighestFramesAfterTheTrim()
    {
        // 1..10 after trimming one frame each end of [100, 1..10, 100]: top 20 % = mean(10, 9), top 25 % → ⌈2.5⌉ = 3 frames
        float[] errors = [100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100];
        Assert.Equal(9.5, FrameScores.Aggregate(errors, "top-20%", 1));
        Assert.Equal(9.0, FrameScores.Aggregate(errors, "top-25%", 1));
        Assert.Equal(10.0, FrameScores.Aggregate(errors, "top-0.1%", 1)); // at least one frame: the maximum
        Assert.Equal(5.5, FrameScores.Aggregate(errors, "top-100%", 1)); // every frame: the mean
        Assert.True(double.IsNaN(FrameScores.Aggregate([1, float.NaN, 3], "top-50%", 0)));
        foreach (var bad in new[] { "top-0%", "top-101%", "top-%", "top-10", "top-x%", "median" })
        {
            Assert.False(FrameScores.IsKnown(bad), bad);
            Assert.Throws<InvalidOptionException>(() => FrameScores.Aggregate(errors, bad, 0));
        }
        Assert.Equal("top-5%", FrameScores.Top(5));
    }

    [Fact]
    public void MachineIds_AreReadFromFileNames_AndTypedIdsInAnyCase()
    {
        Assert.Equal("id_02", MachineIds.FromName("/data/id_07/normal_id_02_00000012.wav")); // the name, not the folder
        Assert.Equal("id_02", MachineIds.FromName("ANOMALY_ID_02_x.wav"));
        Assert.Null(MachineIds.FromName("/data/id_07/recording.wav"));
        Assert.Equal("id_02", MachineIds.Parse("ID_02"));
        Assert.Null(MachineIds.Parse("machine2"));
        Assert.Null(MachineIds.Parse("id_02x"));
    }
}
