using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Scoring;
using Pipeline.Inference.Anomaly;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;
using Pipeline.Training.Networks;
using Pipeline.Tests;

namespace Pipeline.Training.Tests;

/// <summary>
/// Clip statistics: the summary and the per-ID Gaussian against sums written out by hand, the exported graph (trim,
/// summary and distance inside it) against the module through ONNX Runtime for known, unseen and single IDs, a planted
/// whole-clip change caught where frame averages hide it, and every refusal.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class ClipStatisticsTests
{
    // a clip of `frames` frames of `bands` bands: level + slope·band + noise, the noise from a seeded stream
    static NdArray Clip(int frames, int bands, double level, Random random, double slope = 0.5, double noise = 1)
    {
        var data = new float[frames * bands];
        for (var t = 0; t < frames; t++)
            for (var b = 0; b < bands; b++) data[t * bands + b] = (float)(level + slope * b + noise * (random.NextDouble() - 0.5));
        return new NdArray([frames, bands], data);
    }

    // the summary by hand: each band's mean, population standard deviation and maximum over frames [cut, frames − cut)
    static double[] Summary(NdArray clip, int trim)
    {
        var (frames, bands) = (clip.Rows, clip.Columns);
        var cut = Math.Min(trim, (frames - 1) / 2);
        var s = new double[3 * bands];
        for (var b = 0; b < bands; b++)
        {
            var values = Enumerable.Range(cut, frames - 2 * cut).Select(t => (double)clip[t, b]).ToList();
            var mean = values.Average();
            (s[b], s[bands + b], s[2 * bands + b]) = (mean, Math.Sqrt(values.Average(v => (v - mean) * (v - mean))), values.Max());
        }
        return s;
    }

    [Fact]
    public void Fit_GivesEachIdsMeanSummary_AndTheWithinIdVariancePooledOverIds_AndScoresByTheirDistance()
    {
        var random = new Random(3);
        var clips = new List<NdArray>();
        var labels = new List<int>();
        for (var i = 0; i < 7; i++) { clips.Add(Clip(20 + i, 4, i % 2 == 0 ? 0 : 5, random)); labels.Add(i % 2); }
        using var model = ClipStatistics.Fit(clips, labels, ["id_00", "id_01"], trim: 2);
        var summaries = clips.Select(c => Summary(c, 2)).ToList();
        var means = new double[2][];
        for (var k = 0; k < 2; k++)
        {
            var own = summaries.Where((_, i) => labels[i] == k).ToList();
            means[k] = Enumerable.Range(0, 12).Select(j => own.Average(s => s[j])).ToArray();
        }
        var variances = Enumerable.Range(0, 12).Select(j => summaries.Select((s, i) => Math.Pow(s[j] - means[labels[i]][j], 2)).Sum() / (7 - 2)).ToArray();
        var fitted = model.Means.data<double>().ToArray();
        for (var k = 0; k < 2; k++)
            for (var j = 0; j < 12; j++) Assert.Equal(means[k][j], fitted[k * 12 + j], 1e-5);
        Assert.Equal(variances, model.Variances.data<double>().ToArray(), new Tolerance(1e-5));

        var query = Clip(15, 4, 2, random);
        var q = Summary(query, 2);
        double Distance(int k) => Enumerable.Range(0, 12).Average(j => Math.Pow(q[j] - means[k][j], 2) / variances[j]);
        Assert.Equal(Distance(1), model.ClipError(query, 1), 1e-4 * Distance(1));
        Assert.Equal(Math.Min(Distance(0), Distance(1)), model.ClipError(query, 2), 1e-4 * Distance(0)); // an unseen ID: the nearest
        // the frame curve: each frame's mean ((x − the ID's band mean) / the ID's band spread)² over the bands
        var frames = model.FrameErrors(query, 0);
        Assert.Equal(15, frames.Length);
        var expected = Enumerable.Range(0, 4).Average(b => Math.Pow((query[3, b] - means[0][b]) / means[0][4 + b], 2));
        Assert.Equal(expected, frames[3], 1e-4 * expected);
    }

    [Fact]
    public void AWholeClipChange_SmallerThanTheFrameNoise_StandsOut()
    {
        // normal clips: per-frame noise of ±2 dB; the faulty clip lifts one band by 0.5 dB for the whole clip
        var random = new Random(8);
        var clips = Enumerable.Range(0, 30).Select(_ => Clip(300, 8, 0, random, noise: 4)).ToList();
        using var model = ClipStatistics.Fit(clips, [.. Enumerable.Repeat(0, 30)], ["all"], trim: 10);
        var normal = Enumerable.Range(0, 20).Select(_ => model.ClipError(Clip(300, 8, 0, random, noise: 4), 0)).ToList();
        var faulty = Clip(300, 8, 0, random, noise: 4);
        for (var t = 0; t < 300; t++) faulty[t, 5] += 0.5f;
        Assert.True(model.ClipError(faulty, 0) > normal.Max(), $"faulty {model.ClipError(faulty, 0):F2}, normals up to {normal.Max():F2}");
    }

    [Fact]
    public void ExportedGraph_ScoresAsTheModule_ForKnownUnseenAndSingleIds_AndShortClips()
    {
        var root = TestData.TempDirectory();
        var random = new Random(5);
        var clips = Enumerable.Range(0, 9).Select(i => Clip(40, 16, i % 3, random)).ToList();
        var frontEnd = FrontEndConfig.DcaseLogMel with { NMels = 16 };
        foreach (var ids in new[] { new[] { "id_00", "id_01", "id_02" }, ["all"] })
        {
            using var model = ClipStatistics.Fit(clips, [.. clips.Select((_, i) => i % ids.Length)], ids, trim: 5);
            var folder = Path.Combine(root, ids.Length.ToString());
            var manifest = DetectorExport.Export(model, folder, "stats", frontEnd, new AnomalyScoring(FrameScores.Clip, 5, 1.5, "test"));
            Assert.Equal(ClipStatisticsExport.Kind, manifest.Kind);
            Assert.Equal(0, manifest.FrontEnd!.ContextBefore + manifest.FrontEnd.ContextAfter); // single frames
            Assert.Equal(ids.Length > 1 ? ids : null, manifest.MachineIds);
            using var scorer = new AnomalyScorer(folder);
            foreach (var frames in new[] { 40, 11, 3, 1 }) // 11 and fewer: the trim shrinks to keep the middle
            {
                var clip = Clip(frames, 16, 1.5, random);
                foreach (var (index, id) in ids.Length > 1 ? new (int, string?)[] { (1, "id_01"), (3, "id_09") } : [(0, null)])
                {
                    var (score, curve) = scorer.ScoreFeatures(clip, "clip", id);
                    var expected = model.ClipError(clip, index);
                    Assert.True(Math.Abs(score - expected) <= 1e-4 * Math.Max(1, expected), $"{ids.Length} IDs, {frames} frames, {id}: graph {score}, module {expected}");
                    Assert.True(TestData.MaxRelativeError(curve, model.FrameErrors(clip, index)) <= 1e-4);
                }
            }
            Assert.Contains("scores whole clips", Assert.Throws<InvalidOptionException>(() => scorer.OpenStream(frontEnd.SampleRate)).Message);
        }
    }

    [Fact]
    public void AnomalyJob_FitsExportsAndScores_AsTheGraphDoes()
    {
        var root = TestData.TempDirectory();
        var data = Path.Combine(root, "data");
        new MachineSynth(5, seconds: 1).WriteDataSet(data, machines: 2, trainPerMachine: 4, testNormalPerMachine: 2, anomaliesPerKindAndLevel: 1,
            kinds: [AnomalyKind.Clicks], levelsDb: [-10]);
        var frontEnd = FrontEndConfig.DcaseLogMel with { NMels = 16, ContextBefore = 0, ContextAfter = 0 };
        var options = new AnomalyTrainingOptions { Detector = "clip-stats", FrontEnd = frontEnd, TrimFrames = 5 };
        var result = AnomalyTraining.Train(AnomalyDataset.Open(data), options);
        var model = Assert.IsType<ClipStatistics>(result.Model);
        Assert.Equal(["id_01", "id_02"], model.MachineIds);
        Assert.Equal(FrameScores.Clip, result.Scoring.Aggregation);
        var folder = Path.Combine(root, "model");
        DetectorExport.Export(result.Model, folder, "stats", frontEnd, result.Scoring);
        using var scorer = new AnomalyScorer(folder);
        foreach (var clip in result.Test)
            Assert.Equal(clip.Score, scorer.ScoreFile(clip.Clip.Path).Score, 1e-4 * Math.Max(1, clip.Score));
    }

    [Fact]
    public void AJob_WhoseClipsLeaveNoSpreadBesideTheValidationClips_IsRefused_AndShortClipsAreNoted()
    {
        var root = TestData.TempDirectory();
        string Data(string name, int machines, int train)
        {
            var data = Path.Combine(root, name);
            new MachineSynth(5, seconds: 1).WriteDataSet(data, machines: machines, trainPerMachine: train, testNormalPerMachine: 1, anomaliesPerKindAndLevel: 1,
                kinds: [AnomalyKind.Clicks], levelsDb: [-10]);
            return data;
        }
        var options = new AnomalyTrainingOptions { Detector = "clip-stats", FrontEnd = FrontEndConfig.DcaseLogMel with { NMels = 16 }, TrimFrames = 5, ValidationFraction = 0.4 };
        // two IDs of one clip each: neither can be held out, and two clips give two IDs no spread
        var lost = Assert.Throws<InvalidInputException>(() => AnomalyTraining.Train(AnomalyDataset.Open(Data("two", 2, 1)), options));
        Assert.Contains("2 clips are left for 2 IDs (none of the 2 training clips could be held out", lost.Message);
        // one ID of two clips: one is left, and one clip has no spread
        var spread = Assert.Throws<InvalidInputException>(() => AnomalyTraining.Train(AnomalyDataset.Open(Data("one", 1, 2)), options));
        Assert.Contains("1 clip is left for 1 ID (1 of the 2 training clips is held out", spread.Message);
        // 1 s clips give 101 frames (hop 10 ms): a trim of 60 keeps only their middle frame, and the job says so
        var result = AnomalyTraining.Train(AnomalyDataset.Open(Data("short", 1, 4)), options with { TrimFrames = 60 });
        Assert.Contains(result.Notes, n => n.StartsWith("2 of 2 training clips have 120 frames or fewer: --trim 60 shrinks", StringComparison.Ordinal));
        Assert.DoesNotContain(AnomalyTraining.Train(AnomalyDataset.Open(Data("short", 1, 4)), options with { TrimFrames = 50 }).Notes, n => n.Contains("--trim"));
    }

    [Fact]
    public void BadInput_IsRefused_NamingTheFix()
    {
        var random = new Random(1);
        var two = new[] { Clip(10, 4, 0, random), Clip(10, 4, 1, random) };
        Assert.Contains("more training clips than machine IDs", Assert.Throws<InvalidInputException>(() => ClipStatistics.Fit(two, [0, 1], ["id_00", "id_01"], 2)).Message);
        Assert.Contains("id_02 has no training clip", Assert.Throws<InvalidInputException>(() => ClipStatistics.Fit([.. two, .. two], [0, 0, 1, 1], ["id_00", "id_01", "id_02"], 2)).Message);
        Assert.Contains("of shape (10, 3)", Assert.Throws<InvalidInputException>(() => ClipStatistics.Fit([.. two, Clip(10, 3, 0, random)], [0, 0, 0], ["all"], 2)).Message);
        using var model = ClipStatistics.Fit([.. two, two[0]], [0, 0, 0], ["all"], 2);
        Assert.Contains("expected (frames, 4)", Assert.Throws<InvalidInputException>(() => model.ClipError(Clip(10, 5, 0, random), 0)).Message);
        Assert.Contains("expected (frames, 4)", Assert.Throws<InvalidInputException>(() => model.FrameErrors(Clip(10, 5, 0, random), 0)).Message);
        Assert.Contains("without frames", Assert.Throws<InvalidInputException>(() => model.ClipError(new NdArray([0, 4], []), 0)).Message);
        // options: a frame aggregation or band normalisation has no meaning for whole-clip statistics
        Assert.Contains("score whole clips", Assert.Throws<InvalidOptionException>(() => new AnomalyTrainingOptions { Detector = "clip-stats", Aggregation = "max" }.Validate()).Message);
        Assert.Contains("not to clip statistics", Assert.Throws<InvalidOptionException>(() => new AnomalyTrainingOptions { Detector = "clip-stats", NormalizeBands = true }.Validate()).Message);
        // the export refuses a rule that is not the clip rule with the statistics' own trim
        var folder = TestData.TempDirectory();
        Assert.Throws<ModelContractException>(() => DetectorExport.Export(model, folder, "x", FrontEndConfig.DcaseLogMel with { NMels = 4 }, new AnomalyScoring("max", 2, 1, "t")));
        Assert.Throws<ModelContractException>(() => DetectorExport.Export(model, folder, "x", FrontEndConfig.DcaseLogMel with { NMels = 4 }, new AnomalyScoring(FrameScores.Clip, 3, 1, "t")));
        Assert.Throws<ModelContractException>(() => DetectorExport.Export(model, folder, "x", FrontEndConfig.DcaseLogMel with { NMels = 6 }, new AnomalyScoring(FrameScores.Clip, 2, 1, "t")));
        // a manifest that pairs the clip rule with a frame detector (or the reverse) is refused on load
        var manifest = new ModelManifest { Kind = "anomaly-autoencoder", Name = "x", Producer = "test", Anomaly = new AnomalyScoring(FrameScores.Clip, 2, 1, "t"), Graphs = [new GraphSpec("scorer", "model.onnx", [], [])] };
        Assert.Contains("belongs to clip statistics", Assert.Throws<ModelContractException>(() => ManifestValidation.Validate(manifest, "m")).Message);
    }

    sealed class Tolerance(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Abs(y));
        public int GetHashCode(double obj) => 0;
    }
}
