using Pipeline.Inference.Decomposition;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;
using Pipeline.Training.Engine;
using static TorchSharp.torch;

namespace Pipeline.Inference.Tests;

/// <summary>PLCA and SIPLCA exported with fixed templates: the ONNX Loop's EM equals the training side's.</summary>
[Collection(LibTorchCollection.Name)]
public class PlcaExportTests
{
    static NdArray ToNd(Tensor t) => TorchArrays.ToNdArray(t);
    static float[] Values(Tensor t) => TorchArrays.ToNdArray(t).Data;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportedActivations_EqualTheTrainingSide(bool shiftInvariant)
    {
        Tensor train, test;
        PlcaComponent model;
        if (shiftInvariant)
        {
            using (no_grad())
            {
                train = new Nmfd([1, 10, 30], 2, 4, new Generator(1)).forward().detach() + 0.01f;
                test = new Nmfd([1, 10, 24], 2, 4, new Generator(5)).forward().detach() + 0.01f;
            }
            model = new Siplca([1, 10, 30], 2, [4], new Generator(2));
        }
        else
        {
            var (v, _, _) = TestData.Planted(12, 30, 3, seed: 3);
            var (v2, _, _) = TestData.Planted(12, 18, 3, seed: 3);
            (train, test) = (TorchArrays.FromNdArray(v).t(), TorchArrays.FromNdArray(v2).t());
            model = new Plca([30, 12], 3, new Generator(2));
        }
        model.Fit(train, tolerance: 0, maxIterations: 100);
        var dir = Path.Combine(TestData.TempDirectory(), "plca");
        var manifest = PlcaExport.Export(model, dir, "plca", iterations: 40);
        Assert.Equal(shiftInvariant ? "siplca" : "plca", manifest.Kind);
        var (expectedH, expectedV) = model.EstimateActivations(test, 40);
        using var estimator = new ActivationEstimator(dir);
        var result = estimator.Estimate(ToNd(test));
        Assert.True(TestData.MaxRelativeError(result.Activations.Data, Values(expectedH)) < 1e-4);
        Assert.True(TestData.MaxRelativeError(result.Reconstruction.Data, Values(expectedV)) < 1e-4);
        // the activations carry V's mass, and the reconstruction sums to it
        var mass = Values(test).Sum(x => (double)x);
        Assert.Equal(mass, result.Reconstruction.Data.Sum(x => (double)x), 1e-3 * mass);
        using var reconstructor = new Reconstructor(dir);
        Assert.True(TestData.MaxRelativeError(reconstructor.Reconstruct(result.Activations).Data, result.Reconstruction.Data) < 1e-4);
        Assert.Throws<InvalidInputException>(() => estimator.Estimate(new NdArray([2, 5], new float[10])));
    }
}
