using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;

namespace Pipeline.Training.Tests;

/// <summary>How an anomaly job turns a network's errors into file scores: band normalisation and the aggregation chosen on normals.</summary>
[Collection(LibTorchCollection.Name)]
public class FrameErrorScoringTests
{
    static readonly FrontEndConfig Small = FrontEndConfig.DcaseLogMel with { NMels = 8, ContextBefore = 1, ContextAfter = 1 };

    // one machine of 1 s clips; its test part: normal clips and one click fault at −10 dB
    static string Clicks(string root, int trainClips, int testNormalClips)
    {
        var data = Path.Combine(root, "data");
        new MachineSynth(5, seconds: 1).WriteDataSet(data, machines: 1, trainPerMachine: trainClips, testNormalPerMachine: testNormalClips, anomaliesPerKindAndLevel: 1,
            kinds: [AnomalyKind.Clicks], levelsDb: [-10]);
        return data;
    }

    [Fact]
    public void BandNormalisation_WeighsEachValueByItsMeanTrainingError_AndTheExportComputesTheSame()
    {
        var root = TestData.TempDirectory();
        var data = Clicks(root, trainClips: 4, testNormalClips: 2);
        var frontEnd = Small;
        var options = new AnomalyTrainingOptions
        {
            FrontEnd = frontEnd, Hidden = [8, 4], TrimFrames = 5, NormalizeBands = true, Aggregation = "top-10%",
            Training = new() { Epochs = 2, ConstantEpochs = 1, BatchSize = 32, LearningRate = 1e-3, FinalLearningRate = 1e-4, Seed = 3 },
        };
        var set = AnomalyDataset.Open(data);
        var result = AnomalyTraining.Train(set, options);
        var weights = result.ErrorWeights!;
        Assert.Equal(16, weights.Length);
        Assert.Equal("top-10%", result.Scoring.Aggregation);
        // by construction the weighted error averages 1 over the training frames: each value's mean squared error is divided out
        var perFrame = new FeatureExtractor(frontEnd with { ContextBefore = 0, ContextAfter = 0 });
        var trainFiles = set.Train.Where(c => result.Validation.All(v => v.Clip.Path != c.Path)).Select(c => perFrame.ExtractFile(c.Path)).ToList();
        var errors = trainFiles.SelectMany(f => AnomalyTraining.FrameErrors(result.Model, f, 1, 1, weights: weights)).ToList();
        Assert.Equal(1.0, errors.Average(e => (double)e), 1e-4);
        // the exported graph multiplies by the same weights
        var model = Path.Combine(root, "model");
        var manifest = DetectorExport.Export(result.Model, model, "normalised", frontEnd, result.Scoring, errorWeights: weights);
        Assert.Contains("band normalisation", manifest.Graphs[0].Outputs[0].Meaning);
        using var scorer = new Pipeline.Inference.Anomaly.AnomalyScorer(model);
        var clip = result.Test[^1].Clip.Path;
        var expected = AnomalyTraining.FrameErrors(result.Model, perFrame.ExtractFile(clip), 1, 1, weights: weights);
        var actual = scorer.FrameErrors(new FeatureExtractor(frontEnd).ExtractFile(clip));
        Assert.True(TestData.MaxRelativeError(actual, expected) <= 1e-5, $"max relative error {TestData.MaxRelativeError(actual, expected):G3}");
        Assert.Equal(result.Test[^1].Score, scorer.ScoreFile(clip).Score, 1e-4 * Math.Abs(result.Test[^1].Score));
        Assert.Throws<ArgumentException>(() => DetectorExport.Export(result.Model, Path.Combine(root, "bad"), "x", frontEnd, result.Scoring, errorWeights: new float[3]));
    }

    [Fact]
    public void AutoAggregation_IsChosenOnTheValidationNormals_AndFallsBackWithFewerThanTwo()
    {
        var data = Clicks(TestData.TempDirectory(), trainClips: 12, testNormalClips: 1);
        var options = new AnomalyTrainingOptions
        {
            FrontEnd = Small, Hidden = [8, 4], TrimFrames = 5,
            Aggregation = "auto", ValidationFraction = 0.25,
            Training = new() { Epochs = 1, ConstantEpochs = 1, BatchSize = 64, LearningRate = 1e-3, FinalLearningRate = 1e-3, Seed = 3 },
        };
        var result = AnomalyTraining.Train(AnomalyDataset.Open(data), options with { Training = options.Training with { Epochs = 10 } });
        Assert.Equal(3, result.Validation.Count);
        Assert.Equal(AggregationChoice.Candidates, result.AggregationRatings.Select(r => r.Aggregation));
        var best = result.AggregationRatings.MaxBy(r => r.Separation)!;
        Assert.True(best.Separation > 0);
        Assert.Equal(best.Aggregation, result.Scoring.Aggregation);
        Assert.Empty(result.Notes);
        // after one epoch the network's errors do not rise on the synthetic faults: nothing is chosen, the usual rule is kept
        var untrained = AnomalyTraining.Train(AnomalyDataset.Open(data), options);
        Assert.All(untrained.AggregationRatings, r => Assert.True(r.Separation <= 0));
        Assert.Equal("max", untrained.Scoring.Aggregation);
        Assert.StartsWith("--aggregation auto: no candidate's scores rose on the synthetic faults", Assert.Single(untrained.Notes));
        // one validation clip gives no spread: the detector's usual rule is kept, and the job says so
        var few = AnomalyTraining.Train(AnomalyDataset.Open(data), options with { ValidationFraction = 0.05 });
        Assert.Equal("max", few.Scoring.Aggregation);
        Assert.Empty(few.AggregationRatings);
        Assert.Contains("needs two or more of them (this data set gives 1): kept max", Assert.Single(few.Notes));
    }
}
