using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Mixtures;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a fitted <see cref="GaussianMixture"/> as <c>model.onnx</c> (role <c>scorer</c>): features (frames, D) →
/// log_likelihood (frames) = log Σₖ wₖ N(x | μₖ, Σₖ), by ReduceLogSumExp over components, and frame_error = −log p(x),
/// so the anomaly scorer of Inference runs it unchanged (file score: mean of frame_error, the negative mean
/// log-likelihood). Each component is (x − μₖ)·Pₖ with Pₖ the precision Cholesky factor, centred before the product
/// so float32 keeps its digits.
/// </summary>
public static class MixtureExport
{
    public const string ModelFile = "model.onnx";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    public static ModelManifest Export(GaussianMixture mixture, string directory, string name, FrontEndConfig? frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null)
    {
        int k = mixture.Components, d = mixture.Dimensions;
        if (frontEnd is not null && frontEnd.Dimensions != d)
            throw new Shared.Errors.ModelContractException($"the front end gives {frontEnd.Dimensions} values per frame but the mixture has {d} dimensions");
        var factors = mixture.Covariance == CovarianceType.Full ? mixture.PrecisionFactors() : DiagonalFactors(mixture);
        var bias = new float[k];
        for (var c = 0; c < k; c++)
        {
            double logDet = 0;
            for (var i = 0; i < d; i++) logDet += Math.Log(factors[c * d * d + i * d + i]);
            bias[c] = (float)(Math.Log(mixture.Weights[c]) + logDet - 0.5 * d * Math.Log(2 * Math.PI));
        }
        var g = new OnnxGraphBuilder("mixture_scorer");
        var x = g.Input("features", DataType.Float, "frames", d.ToString());
        var means = g.Constant("means", new NdArray([k, 1, d], mixture.Means.Select(v => (float)v).ToArray()));
        var precision = g.Constant("precision_factors", new NdArray([k, d, d], factors.Select(v => (float)v).ToArray()));
        var expanded = g.Node("Unsqueeze", [x, g.Int64Vector("expand_axes", 1, 2)]);       // (frames, 1, 1, D)
        var diff = g.Node("Sub", [expanded, means]);                                        // (frames, K, 1, D)
        var y = g.Node("MatMul", [diff, precision]);                                        // (frames, K, 1, D)
        var squared = g.Node("Mul", [y, y]);
        var distance = g.Node("ReduceSum", [squared, g.Int64Vector("sum_axes", 2, 3)], null, IntAttribute("keepdims", 0)); // (frames, K)
        var scaled = g.Node("Mul", [distance, g.Scalar("minus_half", -0.5f)]);
        var weighted = g.Node("Add", [scaled, g.Constant("log_weight_terms", new NdArray([k], bias))]);
        var logLikelihood = g.Node("ReduceLogSumExp", [weighted], "log_likelihood", IntsAttribute("axes", 1), IntAttribute("keepdims", 0));
        g.Node("Neg", [logLikelihood], "frame_error");
        g.Output("log_likelihood", DataType.Float, "frames");
        g.Output("frame_error", DataType.Float, "frames");

        var manifest = new ModelManifest
        {
            Kind = "gmm",
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs =
            [
                new GraphSpec("scorer", ModelFile,
                    [new TensorSpec("features", "float32", ["frames", d.ToString()], frontEnd is null ? "samples, one per row" : "front-end features, one row per frame")],
                    [
                        new TensorSpec("log_likelihood", "float32", ["frames"], "log p(x) under the mixture"),
                        new TensorSpec("frame_error", "float32", ["frames"], "−log p(x): the per-frame anomaly score"),
                    ]),
            ],
            FrontEnd = frontEnd,
            Anomaly = scoring,
            Training = training,
            ParametersSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(mixture.Weights.Concat(mixture.Means).Concat(mixture.Covariances).ToArray().AsSpan()))),
        };
        return OnnxModelWriter.WriteFolder(directory, manifest, new Dictionary<string, GraphProto> { [ModelFile] = g.Build() });
    }

    /// <summary>diag(1/σ) per component, in the (K, D, D) layout of full factors.</summary>
    static double[] DiagonalFactors(GaussianMixture mixture)
    {
        int k = mixture.Components, d = mixture.Dimensions;
        var factors = new double[k * d * d];
        for (var c = 0; c < k; c++)
            for (var i = 0; i < d; i++) factors[c * d * d + i * d + i] = 1 / Math.Sqrt(mixture.Covariances[c * d + i]);
        return factors;
    }
}
