using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;

namespace Pipeline.Inference.Tests;

/// <summary>A small autoencoder trained on a small synthetic set, exported, and scored back through ONNX Runtime.</summary>
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
            new MachineSynth(5, seconds: 1).WriteDataSet(DataDir, machines: 1, trainPerMachine: 4, testNormalPerMachine: 2, anomaliesPerKindAndSeverity: 1);
            var options = new AnomalyTrainingOptions
            {
                FrontEnd = FrontEndConfig.Preset("dcase-logmel") with { NMels = 16, ContextBefore = 2, ContextAfter = 2 },
                Hidden = [32, 16, 8], Epochs = 2, ConstantEpochs = 1, BatchSize = 32, LearningRate = 1e-3, FinalLearningRate = 1e-4,
                TrimFrames = 10, Seed = 3,
            };
            Result = AnomalyTraining.Train(AnomalyDataset.Open(DataDir), options);
            ModelDir = Path.Combine(root, "model");
            AutoencoderExport.Export(Result.Model, ModelDir, "tiny", options.FrontEnd, Result.Scoring);
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
    public void ManifestThatDisagreesWithTheGraph_IsRefused()
    {
        var copy = Path.Combine(TestData.TempDirectory(), "model");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(trained.ModelDir)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        var manifest = ModelFolder.Read(copy);
        File.WriteAllText(Path.Combine(copy, ModelFolder.ManifestFileName),
            ModelFolder.ToJson(manifest with { FrontEnd = manifest.FrontEnd! with { NMels = 20 } }));
        Assert.Throws<ModelContractException>(() => new AnomalyScorer(copy));
    }
}
