using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;

namespace Pipeline.Inference.Tests;

/// <summary>Alone, not beside other test classes: one test measures the process's resident memory.</summary>
[CollectionDefinition(nameof(AnomalyScorerTests), DisableParallelization = true)]
public sealed class ResidentMemoryCollection;

/// <summary>A small autoencoder trained on a small synthetic set, exported, and scored back through ONNX Runtime.</summary>
[Collection(nameof(AnomalyScorerTests))]
public class AnomalyScorerTests : IClassFixture<AnomalyScorerTests.TrainedModel>
{
    public sealed class TrainedModel
    {
        public string DataDir { get; }
        public string ModelDir { get; }
        public AnomalyTrainingResult Result { get; }

        public TrainedModel()
        {
            var root = TestData.TempDirectory();
            DataDir = Path.Combine(root, "data");
            new MachineSynth(5, seconds: 1).WriteDataSet(DataDir, machines: 1, trainPerMachine: 4, testNormalPerMachine: 2, anomaliesPerKindAndLevel: 1,
                kinds: [AnomalyKind.BearingClicks, AnomalyKind.Clicks, AnomalyKind.Squeal, AnomalyKind.SpeedChange, AnomalyKind.NoiseFloor]);
            var options = new AnomalyTrainingOptions
            {
                FrontEnd = FrontEndConfig.DcaseLogMel with { NMels = 16, ContextBefore = 2, ContextAfter = 2 },
                Hidden = [32, 16, 8], TrimFrames = 10,
                Training = new() { Epochs = 2, ConstantEpochs = 1, BatchSize = 32, LearningRate = 1e-3, FinalLearningRate = 1e-4, Seed = 3 },
            };
            Result = AnomalyTraining.Train(AnomalyDataset.Open(DataDir), options);
            ModelDir = Path.Combine(root, "model");
            DetectorExport.Export(Result.Model, ModelDir, "tiny", options.FrontEnd, Result.Scoring);
        }
    }

    readonly TrainedModel trained;

    public AnomalyScorerTests(TrainedModel trained) => this.trained = trained;

    [Fact]
    public void Scores_EqualTheTrainingSides()
    {
        using var scorer = new AnomalyScorer(trained.ModelDir);
        Assert.Equal(17, trained.Result.Test.Count);
        foreach (var clip in trained.Result.Test)
        {
            var result = scorer.ScoreFile(clip.Clip.Path);
            Assert.True(Math.Abs(result.Score - clip.Score) <= 1e-4 * Math.Abs(clip.Score), $"{clip.Clip.Path}: {result.Score} vs {clip.Score}");
            Assert.Equal(clip.Decision, result.IsAnomaly);
            Assert.Empty(result.Notes);
            Assert.Equal(101, result.FrameErrors.Length);
        }
    }

    [Fact]
    public void FoldedGraph_ReproducesTheNetworksFrameErrors()
    {
        using var scorer = new AnomalyScorer(trained.ModelDir);
        var path = trained.Result.Test[0].Clip.Path;
        var perFrame = new FeatureExtractor(scorer.FrontEnd! with { ContextBefore = 0, ContextAfter = 0 }).ExtractFile(path);
        var expected = AnomalyTraining.FrameErrors(trained.Result.Model, perFrame, 2, 2);
        var actual = scorer.FrameErrors(new FeatureExtractor(scorer.FrontEnd!).ExtractFile(path));
        Assert.True(TestData.MaxRelativeError(actual, expected) < 1e-4);
    }

    [Fact]
    public void UnusualInput_IsScoredAndNoted()
    {
        using var scorer = new AnomalyScorer(trained.ModelDir);
        var mono = AudioFile.Read(trained.Result.Test[0].Clip.Path);
        var reference = scorer.Score(mono);

        var stereo = new AudioClip(mono.Samples.SelectMany(s => new[] { s, s }).ToArray(), 16000, 2);
        var fromStereo = scorer.Score(stereo);
        Assert.Equal(reference.Score, fromStereo.Score, 1e-6 * reference.Score);
        Assert.Contains(fromStereo.Notes, n => n.Contains("mixed 2 channels"));

        var resampled = scorer.Score(Resampler.Resample(mono, 22050));
        Assert.Contains(resampled.Notes, n => n.Contains("resampled 22050 Hz"));
        Assert.True(double.IsFinite(resampled.Score));

        var silent = scorer.Score(new AudioClip(new float[16000], 16000));
        Assert.Contains("silent", silent.Notes);
        Assert.True(double.IsFinite(silent.Score));

        var clipped = scorer.Score(new AudioClip(mono.Samples.Select(s => Math.Clamp(s * 20, -1f, 1f)).ToArray(), 16000));
        Assert.Contains(clipped.Notes, n => n.StartsWith("clipping"));

        // 0.15 s: 16 frames, fewer than 1 + 2·10 trimmed frames: the trim shrinks to 7 and says so
        var shortClip = scorer.Score(new AudioClip(mono.Samples[..2400], 16000));
        Assert.Equal(16, shortClip.FrameErrors.Length);
        Assert.Contains(shortClip.Notes, n => n.Contains("trim reduced from 10 to 7"));
        // 0.005 s: one frame, less than the context needs
        Assert.Throws<InvalidAudioException>(() => scorer.Score(new AudioClip(mono.Samples[..80], 16000)));
    }

    [Fact]
    public void NonFiniteFeaturesOrScores_AreErrors_NeverDecisions()
    {
        // A float WAV with peak 1e18 was scored NaN and called "normal" (NaN > threshold is false): a 1 kHz tone at
        // that level has |X|² ≈ (1e18 · 128)² in its bin, past float32's 3.4e38.
        using var scorer = new AnomalyScorer(trained.ModelDir);
        var loud = new AudioClip(Enumerable.Range(0, 16000).Select(i => (float)(1e18 * Math.Sin(2 * Math.PI * 1000 * i / 16000))).ToArray(), 16000);
        Assert.True(loud.Samples.All(float.IsFinite));
        var e = Assert.Throws<InvalidAudioException>(() => scorer.Score(loud, "loud.wav"));
        Assert.StartsWith("loud.wav: gives non-finite features", e.Message);
        Assert.Contains("peak at 1", e.Message);
        // the front end refuses the same for training and the features command
        Assert.Throws<InvalidAudioException>(() => new FeatureExtractor(scorer.FrontEnd!).Extract(loud, "loud.wav"));
    }

    [Fact]
    public void ManifestThatDisagreesWithTheGraph_IsRefused()
    {
        var copy = Path.Combine(TestData.TempDirectory(), "model");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(trained.ModelDir)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        var manifest = ModelFolder.Read(copy);
        File.WriteAllText(Path.Combine(copy, ModelFolder.ManifestFileName),
            ModelFolder.ToJson(manifest with { FrontEnd = ((LogMelOptions)manifest.FrontEnd!) with { NMels = 20 } }));
        Assert.Throws<ModelContractException>(() => new AnomalyScorer(copy));
    }

    [Fact]
    public void ConcurrentScoring_OnOneSession_EqualsSerial()
    {
        // 8 threads × 250 calls on one session, each thread cycling through every clip from its own starting point.
        using var scorer = new AnomalyScorer(trained.ModelDir, new Runtime.RuntimeOptions { Device = Runtime.Device.Cpu });
        var extractor = new FeatureExtractor(scorer.FrontEnd!);
        var features = trained.Result.Test.Select(c => extractor.ExtractFile(c.Clip.Path)).ToArray();
        var serial = features.Select(f => scorer.FrameErrors(f)).ToArray();
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
        {
            for (var call = 0; call < 250; call++)
            {
                var i = (thread * 7 + call) % features.Length;
                // float32 sums that ONNX Runtime may split differently while its pool is busy: ≪ 1e-5 relative here;
                // another clip's answer would differ at the first digit.
                if (TestData.MaxRelativeError(scorer.FrameErrors(features[i]), serial[i]) >= 1e-5) Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(160)]
    [InlineData(1000)]
    [InlineData(16000)]
    public void StreamedFrameScores_EqualTheWholeClips(int chunk)
    {
        using var scorer = new AnomalyScorer(trained.ModelDir);
        // a normal clip and an anomalous one, back to back: the running verdict changes on the way
        var normal = AudioFile.Read(trained.Result.Test.First(c => !c.Decision).Clip.Path);
        var anomalous = AudioFile.Read(trained.Result.Test.First(c => c.Decision).Clip.Path);
        var clip = new AudioClip([.. normal.Samples, .. anomalous.Samples], normal.SampleRate);
        var whole = scorer.Score(clip, "stream");

        var stream = scorer.OpenStream(clip.SampleRate);
        var frames = new List<FrameScore>();
        for (var at = 0; at < clip.Samples.Length; at += chunk)
        {
            var got = stream.Push(clip.Samples.AsSpan(at, Math.Min(chunk, clip.Samples.Length - at)));
            frames.AddRange(got);
            // a frame is given once the 2 frames of context after it are final: 2 · 160 + 256 samples past its centre
            if (got.Count > 0) Assert.True(got[^1].Frame == (Math.Min(at + chunk, clip.Samples.Length) - 256) / 160 - 1, $"frame {got[^1].Frame} at sample {at + chunk}");
        }
        Assert.False(stream.IsComplete);
        frames.AddRange(stream.Complete());
        Assert.Equal(Enumerable.Range(0, whole.FrameErrors.Length).Select(i => (long)i), frames.Select(f => f.Frame));
        Assert.Equal(0.02, frames[2].Time, 12);
        // the features are equal bit for bit; ONNX Runtime's GEMM may sum a 1-row batch in another order than a
        // 201-row one, so the errors agree to float32's rounding of the 80-term sums, not bit for bit
        for (var i = 0; i < frames.Count; i++)
            Assert.True(Math.Abs(frames[i].Error - whole.FrameErrors[i]) <= 1e-5 * Math.Abs(whole.FrameErrors[i]) + 1e-7, $"frame {i}: {frames[i].Error} vs {whole.FrameErrors[i]}");
        Assert.True(Math.Abs(stream.Score - whole.Score) <= 1e-5 * Math.Abs(whole.Score));
        Assert.Equal(whole.IsAnomaly, stream.IsAnomaly);
        Assert.True(whole.IsAnomaly);
        Assert.Equal(whole.IsAnomaly, stream.Verdict!.IsAnomaly);
        Assert.Equal(whole.Notes, stream.Verdict.Notes);
        // the running verdict is the rule applied to the frames so far: normal over the first clip, anomalous by the end
        Assert.False(frames[90].IsAnomaly);
        Assert.True(frames[^1].IsAnomaly);
    }

    [Fact]
    public void Streams_AtAnotherRate_OrTooShort_AreRefused()
    {
        using var scorer = new AnomalyScorer(trained.ModelDir);
        var rate = Assert.Throws<InvalidAudioException>(() => scorer.OpenStream(44100, "mic"));
        Assert.Equal("mic: is sampled at 44100 Hz but the model takes 16000 Hz, and a stream is not resampled; resample it first (e.g. `sox in.wav -r 16000 out.wav`)", rate.Message);
        var stream = scorer.OpenStream(16000);
        Assert.Empty(stream.Push(new float[100]));
        Assert.Contains("is too short", Assert.Throws<InvalidAudioException>(() => stream.Complete()).Message);
    }

    [Fact]
    public void TwoThousandScorerCalls_DoNotGrowNativeMemory()
    {
        // Every OrtValue (inputs pinned over our arrays, outputs) and every run's native memory is released: the
        // resident size after 1,000 more calls stays where it was once the arena and the JIT have settled (within
        // −3 to +1 MB here). Runs that leave their OrtValues to the finalizer instead of disposing them grow it by
        // 17 MB over the same calls (features of 1,000 frames: 320 kB pinned per call until a collection).
        using var scorer = new AnomalyScorer(trained.ModelDir, new Runtime.RuntimeOptions { Device = Runtime.Device.Cpu });
        var clip = AudioFile.Read(trained.Result.Test[0].Clip.Path);
        var features = new FeatureExtractor(scorer.FrontEnd!).Extract(new AudioClip([.. Enumerable.Repeat(clip.Samples, 10).SelectMany(s => s)], clip.SampleRate));
        long Resident()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;
        }
        void Calls(int n)
        {
            for (var i = 0; i < n; i++)
                if (i % 2 == 0) scorer.FrameErrors(features);
                else scorer.ScoreFile(trained.Result.Test[i % trained.Result.Test.Count].Clip.Path);
        }
        Calls(1000);
        var settled = Resident();
        Calls(1000);
        var growth = Resident() - settled;
        Assert.True(growth < 6 << 20, $"resident memory grew by {growth / 1e6:F1} MB over 1,000 calls");
    }
}
