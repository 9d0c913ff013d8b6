using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
/// The interpolation network: it reads a window without its centre frame and is judged on that frame; its export
/// computes the same error through ONNX Runtime; an anomaly job trains and exports it like the autoencoder.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class InterpolationNetworkTests
{
    [Fact]
    public void Window_IsSplitIntoContextAndCentre_AndTheErrorIsTheCentresMse()
    {
        // 3 bands, a window of 2 frames before and 2 from the centre on: columns 0-5 before, 6-8 the centre, 9-11 after
        using var model = new InterpolationNetwork(3, 2, 2, [8, 4]);
        Assert.Equal(12, model.InputSize);
        Assert.Equal([6L, 7, 8], model.CentreColumns);
        Assert.Equal([0L, 1, 2, 3, 4, 5, 9, 10, 11], model.ContextColumns);
        using var scope = NewDisposeScope();
        model.eval();
        var windows = arange(24, dtype: float32).reshape(2, 12);
        Assert.Equal(new float[] { 6, 7, 8, 18, 19, 20 }, model.Target(windows).data<float>().ToArray());
        var prediction = model.forward(windows);
        Assert.Equal([2L, 3L], prediction.shape);
        // the centre does not reach the prediction: change it and the prediction stays
        var moved = windows.clone();
        moved[TensorIndex.Colon, TensorIndex.Slice(6, 9)] = tensor(1000f);
        Assert.Equal(prediction.data<float>().ToArray(), model.forward(moved).data<float>().ToArray());
        var expected = (prediction - model.Target(windows)).pow(2).mean([1L]);
        Assert.Equal(expected.data<float>().ToArray(), model.FrameErrors(windows).data<float>().ToArray());
        Assert.Contains("expected (N, 12)", Assert.Throws<InvalidInputException>(() => model.forward(randn(2, 9))).Message);
        Assert.Throws<InvalidOptionException>(() => new InterpolationNetwork(3, 0, 1, [8])); // the centre alone
        Assert.Throws<InvalidOptionException>(() => new InterpolationNetwork(3, 2, 0, [8])); // no centre
        Assert.Throws<InvalidOptionException>(() => new InterpolationNetwork(3, 1, 1, [8, 0]));
    }

    [Fact]
    public void Training_LearnsToInterpolate_ASmoothSignal()
    {
        // frames of slowly drifting sinusoids: the centre is (nearly) the mean of its neighbours, so it can be learned
        torch.manual_seed(3);
        const int bands = 4, rows = 512;
        var t = arange(rows + 2, dtype: float32).unsqueeze(1);
        var frames = (t * 0.05f + arange(bands, dtype: float32) * 0.7f).sin();
        var windows = cat([frames.narrow(0, 0, rows), frames.narrow(0, 1, rows), frames.narrow(0, 2, rows)], 1);
        using var model = new InterpolationNetwork(bands, 1, 2, [16, 8], dropout: 0); // frames t, t + 1, t + 2: the centre is t + 1
        var options = new AutoencoderTrainingOptions { Epochs = 60, ConstantEpochs = 30, LearningRate = 1e-2, FinalLearningRate = 1e-3, WeightDecay = 0, BatchSize = 64, Seed = 1 };
        var history = AutoencoderTrainer.Fit(model, rows, indices => windows.index_select(0, indices), options);
        Assert.True(history.TrainLoss[^1] < history.TrainLoss[0] / 20, $"loss {history.TrainLoss[0]:G3} → {history.TrainLoss[^1]:G3}");
    }

    [Fact]
    public void AnomalyJob_TrainsExportsAndScores_TheInterpolationNetwork_AsTheGraphDoes()
    {
        var root = TestData.TempDirectory();
        var data = Path.Combine(root, "data");
        new MachineSynth(5, seconds: 1).WriteDataSet(data, machines: 1, trainPerMachine: 4, testNormalPerMachine: 2, anomaliesPerKindAndLevel: 1,
            kinds: [AnomalyKind.Clicks, AnomalyKind.Whine], levelsDb: [-10]);
        var options = new AnomalyTrainingOptions
        {
            Detector = "idnn",
            FrontEnd = FrontEndConfig.DcaseLogMel with { NMels = 16, ContextBefore = 2, ContextAfter = 2 },
            Hidden = [32, 16, 8], TrimFrames = 10,
            Training = new() { Epochs = 2, ConstantEpochs = 1, BatchSize = 32, LearningRate = 1e-3, FinalLearningRate = 1e-4, Seed = 3 },
        };
        var result = AnomalyTraining.Train(AnomalyDataset.Open(data), options);
        var network = Assert.IsType<InterpolationNetwork>(result.Model);
        Assert.Equal((16 * 4, 16), (network.InputSize, network.Bands));
        Assert.Contains(result.Metrics, g => g.Group == "clicks");
        var model = Path.Combine(root, "model");
        var manifest = DetectorExport.Export(result.Model, model, "tiny-idnn", options.FrontEnd, result.Scoring);
        Assert.Equal("anomaly-idnn", manifest.Kind);
        // the exported graph gives the module's frame errors, and the scorer the job's file scores
        using var scorer = new AnomalyScorer(model);
        var clip = result.Test[0].Clip.Path;
        var perFrame = new FeatureExtractor(options.FrontEnd with { ContextBefore = 0, ContextAfter = 0 }).ExtractFile(clip);
        var expected = AnomalyTraining.FrameErrors(result.Model, perFrame, 2, 2);
        var actual = scorer.FrameErrors(new FeatureExtractor(scorer.FrontEnd!).ExtractFile(clip));
        Assert.True(TestData.MaxRelativeError(actual, expected) <= 1e-5, $"max relative error {TestData.MaxRelativeError(actual, expected):G3}");
        Assert.Equal(result.Test[0].Score, scorer.ScoreFile(clip).Score, 1e-4 * Math.Abs(result.Test[0].Score));
        // a front end of another window is refused
        Assert.Throws<ModelContractException>(() => InterpolationExport.Export(network, Path.Combine(root, "other"), "x",
            options.FrontEnd with { ContextBefore = 1, ContextAfter = 1 }, result.Scoring));
    }
}
