using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Export;
using Pipeline.Training.Vae;
using static TorchSharp.torch;

namespace Pipeline.Inference.Tests;

/// <summary>A VAE on data from a known linear-Gaussian model: x = A·z + b + noise, z ~ N(0, I₂), in 8 dimensions.</summary>
[Collection(LibTorchCollection.Name)]
public class VaeTests
{
    static NdArray LinearGaussian(int n, int seed)
    {
        using var scope = NewDisposeScope();
        using var mixing = new Generator(100);
        using var draws = new Generator((ulong)seed);
        var a = randn([8, 2], generator: mixing);
        var z = randn([n, 2], generator: draws);
        var noise = randn([n, 8], generator: draws) * 0.1;
        var data = z.matmul(a.t()) + noise + arange(5, 13, dtype: float32);
        return new NdArray([n, 8], data.data<float>().ToArray());
    }

    static double MeanSquaredError(NdArray a, NdArray b) => a.Data.Zip(b.Data, (x, y) => (double)(x - y) * (x - y)).Average();

    [Fact]
    public void Training_RaisesTheElbo_AndBeatsTheMeanPredictor()
    {
        var data = LinearGaussian(2000, 1);
        var result = VaeTraining.Train(data, new VaeTrainingOptions { Hidden = [32, 16], Latent = 2, Epochs = 30, BatchSize = 64, LearningRate = 3e-3, Seed = 2 });
        Assert.Equal(30, result.Epochs.Count);
        Assert.True(result.Epochs[^1].Loss < result.Epochs[0].Loss - 1, $"loss {result.Epochs[0].Loss} → {result.Epochs[^1].Loss}");
        Assert.All(result.Epochs, e => Assert.Equal(e.Loss, e.Reconstruction + e.Kl, 1e-3 * Math.Abs(e.Loss)));
        var test = LinearGaussian(500, 3);
        var reconstruction = result.Model.Reconstruct(test);
        var means = Enumerable.Range(0, 8).Select(j => Enumerable.Range(0, 500).Average(i => test[i, j])).ToArray();
        var meanPredictor = new NdArray([500, 8], Enumerable.Range(0, 500 * 8).Select(k => (float)means[k % 8]).ToArray());
        var error = MeanSquaredError(reconstruction, test);
        Assert.True(error < 0.25 * MeanSquaredError(meanPredictor, test), $"VAE {error} vs mean predictor {MeanSquaredError(meanPredictor, test)}");
        // sampling differs from the deterministic reconstruction, reproducibly
        manual_seed(9);
        var sampled = result.Model.Reconstruct(test, sample: true);
        Assert.NotEqual(reconstruction.Data, sampled.Data);
        manual_seed(9);
        Assert.Equal(sampled.Data, result.Model.Reconstruct(test, sample: true).Data);
        Assert.Throws<InvalidInputException>(() => result.Model.Reconstruct(new NdArray([2, 7], new float[14])));
    }

    [Fact]
    public void AJobResumedFromItsCheckpoint_EndsWithTheModelOfAnUninterruptedOne()
    {
        var data = LinearGaussian(300, 4);
        var options = new VaeTrainingOptions { Hidden = [16, 8], Latent = 3, BatchSize = 50, Seed = 7 };
        var straight = VaeTraining.Train(data, options with { Epochs = 4 }).Model;
        var checkpoint = Path.Combine(TestData.TempDirectory(), "vae.checkpoint");
        VaeTraining.Train(data, options with { Epochs = 2, CheckpointPath = checkpoint });
        var resumed = VaeTraining.Train(data, options with { Epochs = 4, CheckpointPath = checkpoint, Resume = true });
        Assert.Equal([3, 4], resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal(straight.Reconstruct(data).Data, resumed.Model.Reconstruct(data).Data);
    }

    [Fact]
    public void ExportedGraphs_EqualTheTrainingSide()
    {
        var data = LinearGaussian(400, 4);
        var model = VaeTraining.Train(data, new VaeTrainingOptions { Hidden = [16, 8], Latent = 3, Epochs = 3, BatchSize = 50, Seed = 5 }).Model;
        var dir = Path.Combine(TestData.TempDirectory(), "vae");
        var manifest = VaeExport.Export(model, dir, "vae", null, new AnomalyScoring("mean", 0, 100, "given"));
        Assert.Matches("^[0-9a-f]{64}$", manifest.ParametersSha256); // same-seed runs are compared by it, as for every model
        using var package = ModelPackage.Open(dir, new RuntimeOptions());
        var outputs = package.Session("scorer").Run(new Dictionary<string, ModelInput> { ["features"] = ModelInput.Float(data) });
        Assert.True(TestData.MaxRelativeError(outputs["reconstruction"].Data, model.Reconstruct(data).Data) < 1e-5);
        // the negative ELBO with the mean latent, per frame, from the training side's terms
        using (no_grad())
        using (NewDisposeScope())
        {
            var x = model.Normalise(tensor(data.Data, [data.Rows, data.Columns]));
            var (mean, logVariance) = model.Encode(x);
            var y = model.Decode(mean);
            // written out here from the formula, not through LossTerms
            var nll = ((x - y).square() + Math.Log(2 * Math.PI)).sum(1) * 0.5;
            var kl = (1 + logVariance - mean.square() - logVariance.exp()).sum(1) * -0.5;
            Assert.True(TestData.MaxRelativeError(outputs["frame_error"].Data, (nll + kl).data<float>().ToArray()) < 1e-5);
            Assert.True(TestData.MaxRelativeError(outputs["latent_mean"].Data, mean.data<float>().ToArray()) < 1e-5);
            var decoded = package.Session("decoder").Run(new Dictionary<string, ModelInput> { ["latent"] = ModelInput.Float(new NdArray([data.Rows, 3], mean.data<float>().ToArray())) });
            Assert.True(TestData.MaxRelativeError(decoded["reconstruction"].Data, (y * model.InputStd + model.InputMean).data<float>().ToArray()) < 1e-5);
        }
        using var scorer = new AnomalyScorer(dir);
        Assert.Equal(400, scorer.FrameErrors(data).Length);
    }

    [Fact]
    public void ConstantTrainingDimension_IsScaledByOne_Named_AndScoresStayFinite()
    {
        // dimension 3 is the same in every training frame (a silent band, say); at test time it moves by 1
        var data = LinearGaussian(200, 6);
        for (var i = 0; i < data.Rows; i++) data[i, 3] = 7;
        var result = VaeTraining.Train(data, new VaeTrainingOptions { Hidden = [16, 8], Latent = 2, Epochs = 2, BatchSize = 50, Seed = 1 });
        Assert.Equal(["dimension 3 of 8 did not vary in training: scaled by 1 instead of by their deviation (the mean is still removed)"], result.Warnings);
        Assert.Equal(1f, result.Model.InputStd[3].item<float>());
        Assert.Equal(7f, result.Model.InputMean[3].item<float>());
        var dir = Path.Combine(TestData.TempDirectory(), "vae");
        VaeExport.Export(result.Model, dir, "vae", null, new AnomalyScoring("mean", 0, 100, "given"));
        using var scorer = new AnomalyScorer(dir);
        var moved = LinearGaussian(20, 7);
        for (var i = 0; i < moved.Rows; i++) moved[i, 3] = 8;
        var scores = scorer.FrameErrors(moved);
        Assert.All(scores, s => Assert.True(float.IsFinite(s) && s < 1e3, $"score {s}"));
        // the moved dimension adds its squared difference (1) over two to the NLL, not (1 / 1e-8)² / 2
        for (var i = 0; i < moved.Rows; i++) moved[i, 3] = 7;
        var still = scorer.FrameErrors(moved);
        Assert.All(scores.Zip(still), p => Assert.InRange(p.First - p.Second, -5, 5));
    }
}
