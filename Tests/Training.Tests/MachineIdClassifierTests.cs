using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Inference.Anomaly;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;
using Pipeline.Training.Networks;
using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>
/// The machine-ID classifier: its error is −log p of the clip's own ID (−max log p for an ID it does not know), it
/// learns to tell IDs apart, the exported graph computes the same errors through ONNX Runtime, and a data set it
/// cannot learn from is refused before any work.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class MachineIdClassifierTests
{
    static readonly FrontEndConfig Small = FrontEndConfig.DcaseLogMel with { NMels = 16, ContextBefore = 4, ContextAfter = 4 };

    [Fact]
    public void FrameErrors_AreMinusLogProbabilityOfTheOwnId_OrOfTheBestKnownIdForAnUnseenOne()
    {
        torch.manual_seed(1);
        using var model = new MachineIdClassifier(16, 8, ["id_00", "id_02", "id_04"], [4, 8], dropout: 0.5);
        model.eval();
        using var scope = NewDisposeScope();
        var windows = randn(5, 16 * 8);
        var logits = model.forward(windows);
        Assert.Equal([5L, 3L], logits.shape);
        // log-softmax by hand, in double
        var l = logits.to(float64).data<double>().ToArray();
        double[] LogP(int n) { var row = l.Skip(3 * n).Take(3).ToArray(); var m = row.Max(); var z = m + Math.Log(row.Sum(v => Math.Exp(v - m))); return row.Select(v => v - z).ToArray(); }
        var ids = tensor(new long[] { 0, 1, 2, 3, 1 });
        var errors = model.FrameErrors(windows, ids).data<float>().ToArray();
        for (var n = 0; n < 5; n++)
        {
            var expected = n == 3 ? -LogP(n).Max() : -LogP(n)[new[] { 0, 1, 2, 3, 1 }[n]];
            Assert.Equal(expected, errors[n], 1e-5);
        }
        Assert.Contains("expected (N, 128)", Assert.Throws<InvalidInputException>(() => model.forward(randn(2, 100))).Message);
        Assert.Contains("two machine IDs", Assert.Throws<InvalidOptionException>(() => new MachineIdClassifier(16, 8, ["id_00"], [4])).Message);
        Assert.Throws<InvalidOptionException>(() => new MachineIdClassifier(16, 8, ["id_00", "id_00"], [4]));
        Assert.Throws<InvalidOptionException>(() => new MachineIdClassifier(16, 1, ["id_00", "id_01"], [4]));
    }

    [Fact]
    public void Training_TellsPlantedIdsApart()
    {
        // two "machines": windows whose energy sits in the low or in the high bands, plus noise
        torch.manual_seed(4);
        const int rows = 256, bands = 8, frames = 4;
        var labels = arange(rows, dtype: int64).remainder(2);
        var profile = stack([linspace(1, 0, bands), linspace(0, 1, bands)]).to(float32); // (2, bands)
        var windows = (profile.index_select(0, labels).repeat(1, frames) + 0.3f * randn(rows, bands * frames));
        using var model = new MachineIdClassifier(bands, frames, ["id_00", "id_01"], [4, 8], dropout: 0);
        var options = new AutoencoderTrainingOptions { Epochs = 30, ConstantEpochs = 15, LearningRate = 3e-3, FinalLearningRate = 1e-4, WeightDecay = 0, BatchSize = 32, Seed = 2 };
        AutoencoderTrainer.Fit(model, rows, indices => nn.functional.cross_entropy(model.forward(windows.index_select(0, indices)), labels.index_select(0, indices)), options);
        model.eval();
        using var scope = NewDisposeScope();
        var accuracy = model.forward(windows).argmax(1).eq(labels).to(float32).mean().ToSingle();
        Assert.True(accuracy > 0.95, $"accuracy {accuracy:F3}");
        // a clip of id_01 scored as if it were id_00 looks anomalous: the wrong ID's error is far higher
        var own = model.FrameErrors(windows, labels).mean().ToDouble();
        var swapped = model.FrameErrors(windows, 1 - labels).mean().ToDouble();
        Assert.True(swapped > 10 * own, $"own {own:G3}, swapped {swapped:G3}");
    }

    [Fact]
    public void EmbeddingDistance_IsTheSquaredMahalanobisDistanceToTheIdsMean_PerDimension()
    {
        // two IDs in 2-D with known means; the pooled covariance by hand, the distance by the 2 × 2 inverse
        double[][] points = [[1, 2], [3, 2], [2, 4], [10, 0], [12, 1], [11, -1]];
        long[] ids = [0, 0, 0, 1, 1, 1];
        using var scope = NewDisposeScope();
        var statistics = IdEmbeddingStatistics.Fit(tensor(points.SelectMany(p => p.Select(v => (float)v)).ToArray(), [6, 2]), tensor(ids), 2);
        double[][] means = [[2, 8.0 / 3], [11, 0]];
        Assert.Equal(means.SelectMany(m => m).Select(v => (float)v), statistics.Means, new FloatTolerance(1e-5f));
        double sxx = 0, sxy = 0, syy = 0;
        for (var i = 0; i < 6; i++)
        {
            var (dx, dy) = (points[i][0] - means[ids[i]][0], points[i][1] - means[ids[i]][1]);
            (sxx, sxy, syy) = (sxx + dx * dx / 6, sxy + dx * dy / 6, syy + dy * dy / 6);
        }
        var ridge = 1e-6 * (sxx + syy) / 2 + 1e-12;
        (sxx, syy) = (sxx + ridge, syy + ridge);
        var det = sxx * syy - sxy * sxy;
        double Distance(double x, double y, int k)
        {
            var (dx, dy) = (x - means[k][0], y - means[k][1]);
            return (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det / 2; // d² per dimension
        }
        var query = tensor(new float[] { 2, 3, 11, 0.5f, 6, 1 }, [3, 2]);
        var errors = statistics.Errors(query, tensor(new long[] { 0, 1, 2 })).data<float>().ToArray();
        Assert.Equal(Distance(2, 3, 0), errors[0], 1e-4 * Distance(2, 3, 0));
        Assert.Equal(Distance(11, 0.5, 1), errors[1], 1e-4 * Distance(11, 0.5, 1));
        var nearest = Math.Min(Distance(6, 1, 0), Distance(6, 1, 1)); // an unseen ID: the nearest known one
        Assert.Equal(nearest, errors[2], 1e-4 * nearest);
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }

    static string Data(string root, int machines, int trainPerMachine = 4)
    {
        var data = Path.Combine(root, "data");
        new MachineSynth(5, seconds: 1).WriteDataSet(data, machines: machines, trainPerMachine: trainPerMachine, testNormalPerMachine: 2, anomaliesPerKindAndLevel: 1,
            kinds: [AnomalyKind.Clicks], levelsDb: [-10]);
        return data;
    }

    static AnomalyTrainingOptions Options => new()
    {
        Detector = "id-classifier", FrontEnd = Small, Channels = [4, 8], TrimFrames = 10,
        Training = new() { Epochs = 2, ConstantEpochs = 1, BatchSize = 32, LearningRate = 1e-3, FinalLearningRate = 1e-4, Seed = 3 },
    };

    [Fact]
    public void AnomalyJob_TrainsExportsAndScores_TheClassifier_AsTheGraphDoes_ForKnownAndUnseenIds()
    {
        var root = TestData.TempDirectory();
        var set = AnomalyDataset.Open(Data(root, machines: 2));
        var result = AnomalyTraining.Train(set, Options);
        var classifier = Assert.IsType<MachineIdClassifier>(result.Model);
        Assert.Equal(["id_01", "id_02"], classifier.MachineIds);
        Assert.Equal("mean", result.Scoring.Aggregation); // the classifier's usual rule
        Assert.Empty(result.Notes);
        var model = Path.Combine(root, "model");
        Assert.NotNull(result.Embedding);
        var manifest = DetectorExport.Export(result.Model, model, "tiny-id", Small, result.Scoring, embedding: result.Embedding);
        Assert.Equal("anomaly-id-classifier", manifest.Kind);
        Assert.Equal(["id_01", "id_02"], manifest.MachineIds!);
        using var scorer = new AnomalyScorer(model);
        var clip = result.Test.First(c => c.Clip.MachineId == "id_02").Clip.Path;
        var perFrame = new FeatureExtractor(Small with { ContextBefore = 0, ContextAfter = 0 }).ExtractFile(clip);
        var stacked = new FeatureExtractor(Small).ExtractFile(clip);
        foreach (var (index, id) in new[] { (0, "id_01"), (1, "id_02"), (2, "id_07") }) // index 2: the unseen ID
        {
            var expected = AnomalyTraining.FrameErrors(result.Model, perFrame, 4, 4, machineIndex: index, embedding: result.Embedding);
            var actual = scorer.FrameErrors(stacked, id);
            Assert.True(TestData.MaxRelativeError(actual, expected) <= 1e-4, $"{id}: max relative error {TestData.MaxRelativeError(actual, expected):G3}");
        }
        // exported without the statistics, the graph computes the softmax error −log p instead, as the module does
        var softmax = Path.Combine(root, "softmax");
        DetectorExport.Export(result.Model, softmax, "tiny-id-softmax", Small, result.Scoring);
        using (var softmaxScorer = new AnomalyScorer(softmax))
            foreach (var (index, id) in new[] { (1, "id_02"), (2, "id_07") })
            {
                var expected = AnomalyTraining.FrameErrors(result.Model, perFrame, 4, 4, machineIndex: index);
                var actual = softmaxScorer.FrameErrors(stacked, id);
                Assert.True(TestData.MaxRelativeError(actual, expected) <= 1e-4, $"softmax {id}: max relative error {TestData.MaxRelativeError(actual, expected):G3}");
            }
        // the file's name says id_02: scored against it, as the job scored it
        var scored = scorer.ScoreFile(clip);
        Assert.Equal(result.Test.First(c => c.Clip.Path == clip).Score, scored.Score, 1e-4 * Math.Abs(scored.Score));
        Assert.DoesNotContain(scored.Notes, n => n.Contains("machine ID"));
        // a copy named for an ID the classifier never heard: scored, with a note saying how
        var unseen = Path.Combine(root, "normal_id_09_0000.wav");
        File.Copy(clip, unseen);
        var note = Assert.Single(scorer.ScoreFile(unseen).Notes, n => n.Contains("machine ID"));
        Assert.Contains("id_09 was not seen in training", note);
        var anonymous = scorer.Score(AudioFile.Read(clip), "recording.wav");
        Assert.Contains("no machine ID given or in the name", Assert.Single(anonymous.Notes, n => n.Contains("machine ID")));
        // an ID given by the caller is used as the name's would be
        Assert.Equal(scored.Score, scorer.Score(AudioFile.Read(clip), "recording.wav", "id_02").Score, 1e-9);
    }

    [Fact]
    public void TestClipsOfAnIdNotSeenInTraining_AreScored_WithANote()
    {
        var root = TestData.TempDirectory();
        var data = Data(root, machines: 3, trainPerMachine: 3);
        foreach (var file in Directory.GetFiles(Path.Combine(data, "train_normal"), "id_03_*")) File.Delete(file);
        var result = AnomalyTraining.Train(AnomalyDataset.Open(data), Options);
        Assert.Equal(["id_01", "id_02"], Assert.IsType<MachineIdClassifier>(result.Model).MachineIds);
        var unseen = result.Test.Where(c => c.Clip.MachineId == "id_03").ToList();
        Assert.Equal(3, unseen.Count); // 2 normal, 1 anomalous
        Assert.All(unseen, c => Assert.True(double.IsFinite(c.Score) && c.Score >= 0));
        Assert.StartsWith("3 test clips are of machine ID id_03, not seen in training: scored by how unlike every known ID (id_01, id_02) they sound", Assert.Single(result.Notes));
        Assert.Equal(["id_01", "id_02"], result.TrainingMachineIds!);
        // the autoencoder scores every clip alike, but says its threshold never heard that ID's normals
        var autoencoder = AnomalyTraining.Train(AnomalyDataset.Open(data), Options with { Detector = "ae", Hidden = [8, 4], Training = Options.Training with { Epochs = 1 } });
        Assert.Equal(3, autoencoder.Test.Count(c => c.Clip.MachineId == "id_03"));
        Assert.Equal("3 test clips are of machine ID id_03, not among the training IDs (id_01, id_02): scored as every clip is, against a threshold placed on their normal clips", Assert.Single(autoencoder.Notes));
    }

    [Fact]
    public void TheHoldOut_TakesItsFractionInASeededOrder_ButNeverAnIdsLastClip()
    {
        LabeledClip Clip(string id, int i) => new($"normal_{id}_{i}.wav", id, false, null);
        var clips = Enumerable.Range(0, 20).Select(i => Clip("id_00", i)).Append(Clip("id_01", 0)).Concat([Clip("id_02", 0), Clip("id_02", 1)]).ToList();
        var splits = Enumerable.Range(0, 12).Select(seed => AnomalyTraining.HoldOut(clips, 0.3, seed)).ToList();
        foreach (var (validation, train) in splits)
        {
            Assert.Equal(7, validation.Count); // round(0.3 · 23)
            Assert.Equal(clips.Select(c => c.Path).Order(), validation.Concat(train).Select(c => c.Path).Order());
            Assert.DoesNotContain(validation, c => c.MachineId == "id_01"); // its only clip stays to be learned
            Assert.Contains(train, c => c.MachineId == "id_02");
        }
        Assert.Equal(splits[3].Validation, AnomalyTraining.HoldOut(clips, 0.3, 3).Validation); // the seed decides
        Assert.True(splits.Select(s => string.Join(",", s.Validation.Select(c => c.Path))).Distinct().Count() > 6);
        // one clip per ID: none can be held out
        var (none, all) = AnomalyTraining.HoldOut([Clip("id_00", 0), Clip("id_01", 0)], 0.5, 1);
        Assert.Empty(none);
        Assert.Equal(2, all.Count);
    }

    [Fact]
    public void AnIdOfOneTrainingClip_IsLearned_AndOneLeftOnlyInValidation_OrAFileWithoutAnId_IsRefused()
    {
        // one training clip per ID: the hold-out keeps both, and the threshold falls back on the training clips
        var root = TestData.TempDirectory();
        var set = AnomalyDataset.Open(Data(root, machines: 2, trainPerMachine: 1));
        var kept = AnomalyTraining.Train(set, Options);
        Assert.Equal(["id_01", "id_02"], ((MachineIdClassifier)kept.Model).MachineIds);
        Assert.Empty(kept.Validation);
        Assert.StartsWith("FPR 0.1 on the 2 training clips (no validation clips)", kept.Scoring.ThresholdRule);
        Assert.StartsWith("no training clip could be held out for validation, so the threshold was placed on the training clips' own scores", Assert.Single(kept.Notes));
        // an ID whose training clip cannot be read, its other held out: refused, not silently dropped
        var three = AnomalyDataset.Open(Data(Path.Combine(root, "three"), machines: 3, trainPerMachine: 2));
        var (validation, train) = AnomalyTraining.HoldOut(three.Train, 0.5, Options.Training.Seed);
        Assert.Equal(3, validation.Count); // one of each ID
        File.WriteAllText(train.Single(c => c.MachineId == "id_03").Path, "not a wav file");
        var lost = Assert.Throws<InvalidInputException>(() => AnomalyTraining.Train(three, Options with { ValidationFraction = 0.5, SkipBadFiles = true }));
        Assert.Contains("no usable training clip of id_03 is left once the validation clips are held out", lost.Message);
        // the autoencoder learns no IDs and trains on, saying the ID is gone from training
        var autoencoder = AnomalyTraining.Train(three, Options with { Detector = "ae", Hidden = [8, 4], ValidationFraction = 0.5, SkipBadFiles = true, Training = Options.Training with { Epochs = 1 } });
        Assert.Contains("machine ID id_03 has no usable training file (its files were left out as unusable)", autoencoder.Notes[0]);
        Assert.Equal(["id_01", "id_02"], autoencoder.TrainingMachineIds!);
        // a training file whose name carries no ID cannot be labelled
        var unnamed = set with { Train = [.. set.Train, set.Train[0] with { Path = "extra.wav", MachineId = "all" }] };
        var unlabelled = Assert.Throws<InvalidInputException>(() => AnomalyTraining.Train(unnamed, Options)).Message;
        Assert.Contains("extra.wav has none", unlabelled);
        Assert.Contains("or use --detector ae, idnn or clip-stats", unlabelled);
    }

    [Fact]
    public void OneMachineId_IsRefusedBeforeAnyWork_NamingTheFix()
    {
        var root = TestData.TempDirectory();
        var set = AnomalyDataset.Open(Data(root, machines: 1, trainPerMachine: 2));
        var error = Assert.Throws<InvalidInputException>(() => AnomalyTraining.Train(set, Options with { CacheDirectory = Path.Combine(root, "cache") }));
        Assert.Contains("two or more IDs", error.Message);
        Assert.Contains("--detector ae, idnn or clip-stats, which need no IDs", error.Message);
        Assert.Contains("named like train_normal/id_00_*.wav, id_02_*.wav", error.Message); // the data set's own layout
        Assert.False(Directory.Exists(Path.Combine(root, "cache"))); // nothing was read
    }

    [Fact]
    public void IdsWithVeryDifferentFileCounts_AreWarnedAbout()
    {
        var clips = Enumerable.Range(0, 6).Select(i => new LabeledClip($"normal_id_00_{i}.wav", "id_00", false, null))
            .Concat([new LabeledClip("normal_id_01_0.wav", "id_01", false, null), new LabeledClip("normal_id_01_1.wav", "id_01", false, null)]).ToList();
        var set = new AnomalyDataset("d", "dcase", clips, []);
        var warning = Assert.Single(AnomalyTraining.Warnings(set, Options));
        Assert.Contains("id_00: 6, id_01: 2", warning);
        Assert.Empty(AnomalyTraining.Warnings(set, Options with { Detector = "ae" }));
        Assert.Empty(AnomalyTraining.Warnings(set with { Train = clips.Skip(3).ToList() }, Options)); // 3 against 2
    }
}
