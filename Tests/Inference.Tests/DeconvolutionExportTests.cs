using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;
using Pipeline.Training.Engine;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Inference.Tests;

/// <summary>NMFD and NMF2D exported with fixed templates: ONNX Runtime's Loop equals the training side's updates.</summary>
[Collection(LibTorchCollection.Name)]
public class DeconvolutionExportTests
{
    static NdArray ToNd(Tensor t) => TorchArrays.ToNdArray(t);
    static float[] Values(Tensor t) => TorchArrays.ToNdArray(t).Data;

    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(1, 2.0)]
    [InlineData(1, 0.5)]
    [InlineData(1, 0.0)]
    [InlineData(2, 1.0)]
    public void ExportedActivationsAndReconstruction_EqualTheTrainingSide(int spatial, double beta)
    {
        DeconvolutionComponent truth, model;
        long[] shape;
        if (spatial == 1)
        {
            shape = [1, 10, 40];
            truth = new Nmfd(shape, 3, 4, new Generator(1));
            model = new Nmfd(shape, 3, 4, new Generator(2));
        }
        else
        {
            shape = [1, 1, 12, 16];
            truth = new Nmf2d(shape, 2, (3, 4), new Generator(1));
            model = new Nmf2d(shape, 2, (3, 4), new Generator(2));
        }
        Tensor v;
        using (no_grad()) v = truth.forward().detach() + 0.01f;
        var trainer = new BetaMu(model.parameters(), beta);
        for (var i = 0; i < 50; i++) trainer.step(() => (model.forward(), v)).Dispose();
        var dir = Path.Combine(TestData.TempDirectory(), "deconvolution");
        var manifest = DeconvolutionExport.Export(model, dir, "test", beta, iterations: 25);
        Assert.Equal(spatial == 1 ? "nmfd" : "nmf2d", manifest.Kind);

        using var package = ModelPackage.Open(dir, new RuntimeOptions());
        var outputs = package.Session("activations").Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(ToNd(v)) });
        var expected = model.EstimateActivations(v, 25, beta);
        Assert.True(TestData.MaxRelativeError(outputs["H"].Data, Values(expected)) < 1e-4);
        Tensor reconstruction;
        using (no_grad()) reconstruction = model.Reconstruct(expected, model.W.detach());
        Assert.True(TestData.MaxRelativeError(outputs["reconstruction"].Data, Values(reconstruction)) < 1e-4);
        // fewer iterations when asked
        var few = package.Session("activations").Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(ToNd(v)), ["iterations"] = ModelInput.Int64Scalar(3) });
        Assert.True(TestData.MaxRelativeError(few["H"].Data, Values(model.EstimateActivations(v, 3, beta))) < 1e-4);
        var rebuilt = package.Session("reconstruction").Run(new Dictionary<string, ModelInput> { ["H"] = ModelInput.Float(ToNd(expected)) });
        Assert.True(TestData.MaxRelativeError(rebuilt["reconstruction"].Data, Values(reconstruction)) < 1e-4);
        // the Inference runners take the convolutional models too
        using (var estimator = new Pipeline.Inference.Decomposition.ActivationEstimator(dir))
        using (var reconstructor = new Pipeline.Inference.Decomposition.Reconstructor(dir))
        {
            var estimate = estimator.Estimate(ToNd(v), 25);
            Assert.True(TestData.MaxRelativeError(estimate.Activations.Data, Values(expected)) < 1e-4);
            Assert.True(TestData.MaxRelativeError(reconstructor.Reconstruct(estimate.Activations).Data, Values(reconstruction)) < 1e-4);
            Assert.Throws<Pipeline.Shared.Errors.InvalidInputException>(() => estimator.Estimate(new NdArray([3, 4], new float[12])));
            // one spectrogram without its batch axis: the same numbers, without the batch axis
            var single = estimator.Estimate(new NdArray([.. v.shape.Skip(1).Select(s => (int)s)], Values(v)), 25);
            Assert.Equal(estimate.Activations.Shape[1..], single.Activations.Shape);
            Assert.Equal(v.shape.Skip(1).Select(s => (int)s), single.Reconstruction.Shape);
            Assert.Equal(estimate.Activations.Data, single.Activations.Data);
            Assert.Equal(estimate.Reconstruction.Data, reconstructor.Reconstruct(single.Activations).Data);
            var negative = ToNd(v);
            negative.Data[5] = -1;
            Assert.Throws<Pipeline.Shared.Errors.InvalidInputException>(() => estimator.Estimate(negative));
        }
        // activation estimation with the fitted templates explains V
        var error = Math.Sqrt(Values(v).Zip(outputs["reconstruction"].Data, (a, b) => (double)(a - b) * (a - b)).Sum() / Values(v).Sum(a => (double)a * a));
        Assert.True(error < 0.2, $"relative error {error}");
    }
}
