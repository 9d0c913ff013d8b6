using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export;
using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;
using Autoencoder = Pipeline.Training.Networks.Autoencoder;

namespace Pipeline.Training.Tests;

/// <summary>The autoencoder as a TorchSharp module: PyTorch's state names, the recipe's shape, and its ONNX export.</summary>
[Collection(LibTorchCollection.Name)]
public class NetworkAutoencoderTests
{
    [Fact]
    public void StateDict_NamesItsTensorsAsPyTorchDoes()
    {
        using var model = new Autoencoder(20, [16, 8]);
        // two nn.Sequentials: Linear, ReLU, BatchNorm1d, Linear | Linear, ReLU, BatchNorm1d, Dropout, Linear
        string[] expected =
        [
            "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "encoder.2.running_mean", "encoder.2.running_var",
            "encoder.2.num_batches_tracked", "encoder.3.weight", "encoder.3.bias",
            "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias", "decoder.2.running_mean", "decoder.2.running_var",
            "decoder.2.num_batches_tracked", "decoder.4.weight", "decoder.4.bias",
        ];
        Assert.Equal(expected.Order(), model.state_dict().Keys.Order());
        Assert.Equal([16L, 20L], model.state_dict()["encoder.0.weight"].shape);
        Assert.Equal([20L, 16L], model.state_dict()["decoder.4.weight"].shape);
    }

    [Fact]
    public void Dcase2020Baseline_Is1280_512_256_128_Mirrored()
    {
        using var model = Autoencoder.Dcase2020Baseline();
        long Dense(long i, long o) => i * o + o;
        // five Linear layers' weights and biases, four BatchNorms' scales and shifts
        var trainable = Dense(1280, 512) + Dense(512, 256) + Dense(256, 128) + Dense(128, 256) + Dense(256, 512) + Dense(512, 1280) + 2 * (512 + 256 + 256 + 512);
        Assert.Equal(trainable, model.parameters().Sum(p => p.numel()));
        using var scope = NewDisposeScope();
        model.eval();
        Assert.Equal([3L, 1280L], model.forward(randn(3, 1280)).shape);
        Assert.Contains("expected (N, 1280)", Assert.Throws<InvalidInputException>(() => model.forward(randn(3, 64))).Message);
        Assert.Throws<InvalidOptionException>(() => new Autoencoder(20, [16, 0]));
        Assert.Throws<InvalidOptionException>(() => new Autoencoder(20, [16], dropout: 1));
    }

    [Fact]
    public void Export_MatchesTheModulesEvaluationOutputThroughOnnxRuntime()
    {
        torch.manual_seed(7);
        using var model = new Autoencoder(20, [16, 8]);
        MoveStatistics(model);
        model.eval();
        using var x = randn(50, 20);
        using var expected = model.forward(x).detach();
        using var expectedError = (x - expected).pow(2).mean([1L]);

        var dir = TestData.TempDirectory();
        var frontEnd = new LogMelOptions { NMels = 10, ContextBefore = 1, ContextAfter = 1 }; // 20 values per frame
        AutoencoderExport.Export(model, dir, "torch-ae", frontEnd, new AnomalyScoring("mean", 0, 1.0, "given"));
        using var session = new InferenceSession(Path.Combine(dir, AutoencoderExport.ModelFile));
        var input = NamedOnnxValue.CreateFromTensor("features", new DenseTensor<float>(x.data<float>().ToArray(), [50, 20]));
        using var outputs = session.Run([input]);
        var reconstruction = outputs.Single(o => o.Name == "reconstruction").AsTensor<float>().ToArray();
        var frameError = outputs.Single(o => o.Name == "frame_error").AsTensor<float>().ToArray();
        Assert.True(TestData.MaxRelativeError(reconstruction, expected.data<float>().ToArray()) <= 1e-5, "reconstruction");
        Assert.True(TestData.MaxRelativeError(frameError, expectedError.data<float>().ToArray()) <= 1e-5, "frame error");
    }

    /// <summary>Moves the running statistics and the BatchNorm affine maps of a 20-16-8 network away from their start.</summary>
    internal static void MoveStatistics(Autoencoder model)
    {
        using var scope = NewDisposeScope();
        model.train();
        using (no_grad())
        {
            for (var i = 0; i < 5; i++) model.forward(randn(32, 20) * 2 + 0.5);
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains(".2.")) p.add_(randn_like(p) * 0.3);
        }
    }
}
