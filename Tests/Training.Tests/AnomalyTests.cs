using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;

namespace Pipeline.Training.Tests;

public class AnomalyTests
{
    [Fact]
    public void Synth_IsDeterministic_AndFaultsChangeTheSound()
    {
        var a = new MachineSynth(1, seconds: 0.5);
        var b = new MachineSynth(1, seconds: 0.5);
        var normal = a.Render(new MachineClipSpec(1, AnomalyKind.None, 0, 0));
        Assert.Equal(normal.Samples, b.Render(new MachineClipSpec(1, AnomalyKind.None, 0, 0)).Samples);
        Assert.Equal(8000, normal.Samples.Length);
        Assert.NotEqual(normal.Samples, a.Render(new MachineClipSpec(1, AnomalyKind.None, 0, 1)).Samples);
        Assert.NotEqual(normal.Samples, new MachineSynth(2, seconds: 0.5).Render(new MachineClipSpec(1, AnomalyKind.None, 0, 0)).Samples);
        Assert.All(normal.Samples, s => Assert.InRange(s, -1f, 1f));
        Assert.Equal(11, MachineSynth.AllKinds.Count);
        foreach (var kind in MachineSynth.AllKinds)
        {
            var faulty = a.Render(new MachineClipSpec(1, kind, 0, 0));
            Assert.Equal(faulty.Samples, b.Render(new MachineClipSpec(1, kind, 0, 0)).Samples);
            Assert.All(faulty.Samples, s => Assert.InRange(s, -1f, 1f));
        }
        Assert.Throws<InvalidOptionException>(() => a.Render(new MachineClipSpec(1, AnomalyKind.Rattle, double.NaN, 0)));
        Assert.Throws<InvalidOptionException>(() => a.Render(new MachineClipSpec(1, AnomalyKind.Rattle, 30, 0)));
    }

    [Theory]
    [InlineData(AnomalyKind.Clicks, -20.0)]
    [InlineData(AnomalyKind.Crackle, -10.0)]
    [InlineData(AnomalyKind.Squeal, 0.0)]
    [InlineData(AnomalyKind.Whine, -20.0)]
    [InlineData(AnomalyKind.SpeedChange, -10.0)]
    [InlineData(AnomalyKind.NoiseFloor, 0.0)]
    [InlineData(AnomalyKind.Imbalance, -20.0)]
    [InlineData(AnomalyKind.BearingClicks, 0.0)]
    public void Synth_MixesEachFaultAtItsLevel_WhileItSounds(AnomalyKind kind, double levelDb)
    {
        // the definition, measured here on its own: the fault's RMS over the 10 ms blocks above 1 % of its loudest
        // block's RMS, against the healthy machine's RMS over the clip
        var synth = new MachineSynth(7, seconds: 2);
        var (healthy, fault) = synth.Mix(new MachineClipSpec(2, kind, levelDb, 0));
        var blocks = Enumerable.Range(0, fault.Length / 160).Select(b => fault.Skip(b * 160).Take(160).Average(x => x * x)).ToList();
        var present = blocks.Where(e => Math.Sqrt(e) >= 0.01 * Math.Sqrt(blocks.Max())).ToList();
        var measured = 10 * Math.Log10(present.Average() / healthy.Average(x => x * x));
        Assert.InRange(measured, levelDb - 0.01, levelDb + 0.01);
        // and the faults that come and go do come and go: a click is present in few blocks, a whine in all
        if (kind == AnomalyKind.Clicks) Assert.True(present.Count < blocks.Count / 4, $"clicks present in {present.Count} of {blocks.Count} blocks");
        if (kind is AnomalyKind.Whine or AnomalyKind.NoiseFloor) Assert.True(present.Count > blocks.Count * 9 / 10);
    }

    [Fact]
    public void Dataset_ReadsBothLayoutsWithLabelsAndMachineIds()
    {
        var dir = TestData.TempDirectory();
        var toy = Path.Combine(dir, "toy");
        var count = new MachineSynth(3, seconds: 0.2).WriteDataSet(toy, machines: 2, trainPerMachine: 2, testNormalPerMachine: 1, anomaliesPerKindAndLevel: 1,
            kinds: [AnomalyKind.Clicks, AnomalyKind.Whine, AnomalyKind.NoiseFloor], levelsDb: [-20, -7.5]);
        Assert.Equal(2 * (2 + 1 + 3 * 2), count);
        var set = AnomalyDataset.Open(toy);
        Assert.Equal(("toyadmos", 4, 14), (set.Layout, set.Train.Count, set.Test.Count));
        Assert.All(set.Train, c => Assert.False(c.IsAnomaly));
        Assert.Equal(12, set.Test.Count(c => c.IsAnomaly));
        Assert.Contains(set.Test, c => c is { MachineId: "id_02", Kind: "clicks", Level: "-20 dB" });
        Assert.Contains(set.Test, c => c is { MachineId: "id_01", Kind: "noisefloor", Level: "-7.5 dB" });
        Assert.True(File.Exists(Path.Combine(toy, "test_anomaly", "id_01_anomaly_whine_-7.5db_0000.wav")));
        // older sets named severities: still read
        Assert.Equal("severity 2", AnomalyDataset.Open(Older(dir)).Test.Single(c => c.IsAnomaly).Level);

        var dcase = Path.Combine(dir, "dcase");
        var clip = new AudioClip(new float[1600], 16000);
        foreach (var name in new[] { "train/normal_id_00_00000000.wav", "train/normal_id_02_00000001.wav", "test/normal_id_00_00000000.wav", "test/anomaly_id_02_00000000.wav" })
            AudioFile.Write(Path.Combine(dcase, name), clip);
        var d = AnomalyDataset.Open(dcase);
        Assert.Equal("dcase", d.Layout);
        Assert.Equal(["id_00", "id_02"], d.Train.Select(c => c.MachineId));
        Assert.Equal([true, false], d.Test.Select(c => c.IsAnomaly)); // ordinal order: anomaly_ before normal_
        Assert.Null(d.Test[0].Kind);
        AudioFile.Write(Path.Combine(dcase, "train", "anomaly_id_00_1.wav"), clip);
        Assert.Throws<InvalidFileException>(() => AnomalyDataset.Open(dcase));
        Assert.Throws<InvalidFileException>(() => AnomalyDataset.Open(Path.Combine(dir, "nothing")));
        Assert.Throws<InvalidFileException>(() => AnomalyDataset.Open(Path.Combine(dcase, "test")));
    }

    static string Older(string dir)
    {
        var older = Path.Combine(dir, "older");
        var clip = new AudioClip(new float[1600], 16000);
        foreach (var name in new[] { "train_normal/id_01_normal_0000.wav", "test_normal/id_01_normal_0000.wav", "test_anomaly/id_01_anomaly_rattle_s2_0000.wav" })
            AudioFile.Write(Path.Combine(older, name), clip);
        return older;
    }

    [Fact]
    public void Metrics_AreGivenPerKindAndPerLevel_FromSubtleToObvious()
    {
        ScoredClip Clip(bool anomaly, string? kind, string? level, double score) => new(new LabeledClip("x.wav", "id_01", anomaly, kind, level), score, false);
        var test = new List<ScoredClip>
        {
            Clip(false, null, null, 1), Clip(false, null, null, 2), Clip(false, null, null, 3),
            Clip(true, "clicks", "-20 dB", 1.5), Clip(true, "clicks", "0 dB", 9), Clip(true, "whine", "-20 dB", 2.5), Clip(true, "whine", "0 dB", 8),
        };
        var groups = AnomalyTraining.Metrics(test, 0.1).ToDictionary(g => g.Group, g => g.Scores);
        Assert.Equal(["all", "id_01", "clicks", "whine", "at -20 dB", "at 0 dB"], AnomalyTraining.Metrics(test, 0.1).Select(g => g.Group));
        // each group: its anomalies against every normal clip; at −20 dB, 1.5 beats 1 of 3 normals and 2.5 beats 2 of 3
        Assert.Equal(0.5, groups["at -20 dB"].Auc, 12);
        Assert.Equal(1.0, groups["at 0 dB"].Auc, 12);
        Assert.Equal((1 / 3.0 + 1) / 2, groups["clicks"].Auc, 12);
    }

    [Fact]
    public void Metrics_MatchHandComputedValues()
    {
        double[] normal = [0.1, 0.2, 0.3, 0.4], anomaly = [0.25, 0.5, 0.6];
        // pairs won: 0.25 beats 2 normals, 0.5 and 0.6 beat all 4 → (2 + 4 + 4) / 12
        Assert.Equal(10.0 / 12, DetectionMetrics.Auc(normal, anomaly), 1e-12);
        Assert.Equal(0.5, DetectionMetrics.Auc([1, 2], [1, 2]), 1e-12); // ties count half
        // ROC: (0,0) (0,1/3) (0,2/3) (1/4,2/3) (1/2,2/3) (1/2,1) ... with max FPR 0.5 the area is 0.5·2/3 → pAUC 2/3
        Assert.Equal(2.0 / 3, DetectionMetrics.PartialAuc(normal, anomaly, 0.5), 1e-12);
        Assert.Equal(1.0, DetectionMetrics.PartialAuc(normal, [0.9, 1.0], 0.1), 1e-12);
        Assert.Equal(0.0, DetectionMetrics.PartialAuc(normal, [0.0], 0.1), 1e-12);
        // 10 normals, FPR 0.1: one normal may lie above the threshold
        var ten = Enumerable.Range(1, 10).Select(i => (double)i).ToArray();
        Assert.Equal(9.0, DetectionMetrics.ThresholdAtFpr(ten, 0.1));
        Assert.Equal("FPR 0.1 on the 10 validation normal clips", DetectionMetrics.ThresholdRule(0.1, 10, "validation normal clips"));
        // nine cannot leave one above: the threshold is their highest, and the rule says so
        Assert.Equal(9.0, DetectionMetrics.ThresholdAtFpr(ten[..9], 0.1));
        Assert.Equal("FPR 0.1 on the 9 validation normal clips; fewer than 10, so none may lie above it: the threshold is their highest score",
            DetectionMetrics.ThresholdRule(0.1, 9, "validation normal clips"));
        Assert.StartsWith("FPR 0.1 on the 1 validation normal clip; ", DetectionMetrics.ThresholdRule(0.1, 1, "validation normal clips"));
        var scores = DetectionMetrics.Evaluate(ten, [9.5, 20, 5], 0.1);
        Assert.Equal(9.0, scores.Threshold);
        // TP 2 (9.5, 20), FP 1 (10), FN 1 (5): F1 = 4 / (4 + 1 + 1)
        Assert.Equal(4.0 / 6, scores.F1, 1e-12);
        Assert.Throws<InvalidInputException>(() => DetectionMetrics.Evaluate([], [1.0]));
    }

    [Fact]
    public void FrameScores_TrimThenAggregate_AndShortClipsKeepTheirMiddle()
    {
        var errors = Enumerable.Range(0, 120).Select(i => i < 50 || i >= 70 ? 100f : i).ToArray();
        Assert.Equal(69, FrameScores.Aggregate(errors, "max", 50));
        Assert.Equal(59.5, FrameScores.Aggregate(errors, "mean", 50), 1e-9);
        Assert.Equal(100, FrameScores.Aggregate(errors, "max", 0));
        // 7 frames with a trim of 50: the trim shrinks to 3 and the middle frame is the score
        Assert.Equal(3, FrameScores.EffectiveTrim(7, 50));
        Assert.Equal(4f, FrameScores.Aggregate([9, 9, 9, 4, 9, 9, 9], "max", 50));
        Assert.Equal(0, FrameScores.EffectiveTrim(1, 50));
        Assert.Throws<InvalidOptionException>(() => FrameScores.Aggregate(errors, "median", 50));
    }

    [Fact]
    public void Options_AreValidatedTogether()
    {
        var e = Assert.Throws<InvalidOptionException>(() => new AnomalyTrainingOptions { Training = new() { Epochs = 0, BatchSize = 1 }, Aggregation = "median", TargetFpr = 2 }.Validate());
        Assert.Contains("epochs", e.Message);
        Assert.Contains("batch", e.Message);
        Assert.Contains("aggregation", e.Message);
        Assert.Contains("FPR", e.Message);
        var classifier = Assert.Throws<InvalidOptionException>(() => new AnomalyTrainingOptions { Detector = "id-classifier", NormalizeBands = true, Channels = [8, 0] }.Validate());
        Assert.Contains("band normalisation", classifier.Message);
        Assert.Contains("channels", classifier.Message);
        Assert.Equal(["max", "mean", "top-5%", "auto"], new[] { "ae", "id-classifier" }.Select(d => new AnomalyTrainingOptions { Detector = d }.AggregationOrDefault)
            .Concat(new[] { "top-5%", "auto" }.Select(a => new AnomalyTrainingOptions { Aggregation = a }.Validate().AggregationOrDefault)));
    }
}
