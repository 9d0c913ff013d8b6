using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Synthesis;

namespace Pipeline.Inference.Tests;

public class MixtureScorerTests
{
    static NdArray Data(int n, int d, int seed)
    {
        var g = new SeededRandom(seed);
        var x = new float[n * d];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < d; j++) x[i * d + j] = (float)((i % 3 - 1) * 4 + 100 + (j + 1) * 0.3 * (g.NextDouble() - 0.5) * 2);
        return new NdArray([n, d], x);
    }

    [Theory]
    [InlineData(CovarianceType.Full)]
    [InlineData(CovarianceType.Diagonal)]
    public void ExportedLogLikelihood_EqualsTheTrainingSides(CovarianceType type)
    {
        var x = Data(600, 4, 1);
        var gmm = new GaussianMixture(3, type);
        gmm.FitEm(x, new GmmEmOptions { Seed = 1 });
        var dir = Path.Combine(TestData.TempDirectory(), "gmm");
        MixtureExport.Export(gmm, dir, "gmm", null, new AnomalyScoring("mean", 0, 10, "given"));
        using var scorer = new AnomalyScorer(dir);
        var errors = scorer.FrameErrors(x);
        var expected = gmm.ScoreSamples(x);
        for (var i = 0; i < errors.Length; i++)
            Assert.True(Math.Abs(-errors[i] - expected[i]) <= 1e-4 * Math.Abs(expected[i]) + 1e-5, $"sample {i}: {-errors[i]} vs {expected[i]}");
        Assert.Throws<ModelContractException>(() => scorer.Score(new AudioClip(new float[16000], 16000)));
        Assert.Throws<InvalidInputException>(() => scorer.FrameErrors(new NdArray([2, 5], new float[10])));
    }

    [Fact]
    public void MixtureOnLogMel_ScoresWavFilesLikeTheAutoencoder()
    {
        var root = TestData.TempDirectory();
        var data = Path.Combine(root, "data");
        new MachineSynth(4, seconds: 1).WriteDataSet(data, machines: 1, trainPerMachine: 3, testNormalPerMachine: 1, anomaliesPerKindAndLevel: 0);
        var frontEnd = FrontEndConfig.DcaseLogMel with { NMels = 12, ContextBefore = 0, ContextAfter = 0 };
        var extractor = new FeatureExtractor(frontEnd);
        var train = AnomalyDataset.Open(data).Train.Select(c => extractor.ExtractFile(c.Path)).ToList();
        var all = new NdArray([train.Sum(t => t.Rows), 12], train.SelectMany(t => t.Data).ToArray());
        var gmm = new GaussianMixture(2, CovarianceType.Diagonal);
        gmm.FitEm(all, new GmmEmOptions { Seed = 0 });
        var dir = Path.Combine(root, "gmm");
        MixtureExport.Export(gmm, dir, "gmm", frontEnd, new AnomalyScoring("mean", 0, 0, "given"));
        using var scorer = new AnomalyScorer(dir);
        var test = AnomalyDataset.Open(data).Test[0].Path;
        var result = scorer.ScoreFile(test);
        var expected = -gmm.Score(extractor.ExtractFile(test));
        Assert.Equal(expected, result.Score, 1e-4 * Math.Abs(expected));
    }
}
