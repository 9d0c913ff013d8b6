using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a trained <see cref="Autoencoder"/> as one fixed graph, <c>model.onnx</c> (role <c>scorer</c>):
/// context-stacked features (frames, D) → per-frame error mean((x − x̂)²) (frames) and the reconstruction
/// (frames, D). Dropout is dropped and every BatchNorm (evaluation statistics) is folded into the Gemm that
/// follows it: W′ = W·diag(s), b′ = b + W·t for BatchNorm's affine map x·s + t.
/// </summary>
public static class AutoencoderExport
{
    public const string ModelFile = "model.onnx";
    public const string FramesDim = "frames";

    /// <summary>
    /// Writes the model folder of a trained <see cref="Autoencoder"/> (its evaluation-mode function: the running
    /// statistics, no dropout) and returns the manifest as written.
    /// </summary>
    /// <param name="errorWeights">Band normalisation's weights, one per input value, or null for the plain mean squared error.</param>
    public static ModelManifest Export(Autoencoder model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null, float[]? errorWeights = null) =>
        Export(Fold(model), model.InputSize, directory, name, frontEnd, scoring, training, errorWeights);

    static ModelManifest Export(List<FoldedLayer> layers, int inputSize, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training, float[]? errorWeights)
    {
        if (errorWeights is not null && errorWeights.Length != inputSize)
            throw new ArgumentException($"{errorWeights.Length} error weights for {inputSize} values", nameof(errorWeights));
        if (frontEnd.Dimensions != inputSize)
            throw new Shared.Errors.ModelContractException($"the front end gives {frontEnd.Dimensions} values per frame but the autoencoder takes {inputSize}");
        return DetectorExport.WriteScorer(directory, new ModelManifest
        {
            Kind = "anomaly-autoencoder",
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs = [DetectorExport.ScorerSpec(inputSize, [], [
                new TensorSpec("frame_error", "float32", [FramesDim], FrameErrorMeaning("reconstruction", errorWeights)),
                new TensorSpec("reconstruction", "float32", [FramesDim, inputSize.ToString()], "the autoencoder's reconstruction"),
            ])],
            FrontEnd = frontEnd,
            Anomaly = scoring,
            Training = training,
            ParametersSha256 = ParametersHash(layers, errorWeights),
        }, Graph(layers, inputSize, errorWeights));
    }

    internal static string ParametersHash(List<FoldedLayer> layers, float[]? errorWeights = null) =>
        ParametersHash(layers.SelectMany(l => new[] { l.Weight, l.Bias }).Concat(errorWeights is null ? [] : [new NdArray([errorWeights.Length], errorWeights)]));

    /// <summary>SHA-256 of the exported parameters' float32 bytes, in order.</summary>
    internal static string ParametersHash(IEnumerable<NdArray> parameters)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var p in parameters) hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Data.AsSpan()));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The manifest's words for frame_error: the plain mean squared error, or the band-normalised one.</summary>
    internal static string FrameErrorMeaning(string what, float[]? errorWeights) => errorWeights is null
        ? $"mean squared {what} error of each frame"
        : $"mean over values of the squared {what} error divided by its mean on the normal training frames (band normalisation)";

    /// <summary>One Gemm (weight (out, in), bias (out)) and whether a ReLU follows it.</summary>
    internal sealed record FoldedLayer(NdArray Weight, NdArray Bias, bool Relu);

    /// <summary>The network as Gemm(+ReLU) layers (parameters copied to the CPU), BatchNorm folded forward, Dropout removed.</summary>
    internal static List<FoldedLayer> Fold(Autoencoder model) => Fold(model.Encoder.children().Concat(model.Decoder.children()));

    /// <summary>Layers in order as Gemm(+ReLU) layers (parameters copied to the CPU), BatchNorm folded forward, Dropout removed.</summary>
    internal static List<FoldedLayer> Fold(IEnumerable<torch.nn.Module> modules)
    {
        static double[] Values(torch.Tensor t) => Array.ConvertAll(Engine.TorchArrays.ToNdArray(t).Data, v => (double)v);
        var layers = new List<FoldedLayer>();
        double[]? scale = null, shift = null; // a BatchNorm waiting for the next Linear
        foreach (var module in modules)
            switch (module)
            {
                case Linear linear:
                {
                    var (outs, ins) = ((int)linear.out_features, (int)linear.in_features);
                    var (w, b) = (Values(linear.weight), linear.bias is { } bias0 ? Values(bias0) : new double[outs]);
                    var weight = new float[outs * ins];
                    var bias = new float[outs];
                    for (var o = 0; o < outs; o++)
                    {
                        var acc = b[o];
                        for (var i = 0; i < ins; i++)
                        {
                            weight[o * ins + i] = (float)(w[o * ins + i] * (scale?[i] ?? 1.0));
                            acc += w[o * ins + i] * (shift?[i] ?? 0.0);
                        }
                        bias[o] = (float)acc;
                    }
                    layers.Add(new FoldedLayer(new NdArray([outs, ins], weight), new NdArray([outs], bias), false));
                    (scale, shift) = (null, null);
                    break;
                }
                case ReLU:
                    layers[^1] = layers[^1] with { Relu = true };
                    break;
                case BatchNorm1d bn:
                    (scale, shift) = BatchNormAffine(bn);
                    break;
                case Dropout:
                    break; // the identity at inference
                default:
                    throw new InvalidOperationException($"cannot export a {module.GetType().Name} layer");
            }
        if (scale is not null) throw new InvalidOperationException("a BatchNorm at the end of the network has no Gemm to fold into");
        return layers;
    }

    /// <summary>
    /// A BatchNorm's evaluation-mode function as the affine map x·s + t per feature or channel (parameters copied to
    /// the CPU): s = γ / √(running variance + ε), t = β − running mean · s. Both exporters fold it into a neighbour.
    /// </summary>
    internal static (double[] Scale, double[] Shift) BatchNormAffine(BatchNorm bn)
    {
        static double[] Values(torch.Tensor t) => Array.ConvertAll(Engine.TorchArrays.ToNdArray(t).Data, v => (double)v);
        var (gamma, beta, mean, variance) = (Values(bn.weight!), Values(bn.bias!), Values(bn.running_mean!), Values(bn.running_var!));
        var (scale, shift) = (new double[gamma.Length], new double[gamma.Length]);
        for (var i = 0; i < gamma.Length; i++)
        {
            scale[i] = gamma[i] / Math.Sqrt(variance[i] + bn.eps);
            shift[i] = beta[i] - mean[i] * scale[i];
        }
        return (scale, shift);
    }

    /// <summary>The folded layers as Gemm(+Relu) nodes from <paramref name="input"/>; returns the last output's name.</summary>
    internal static string Layers(OnnxGraphBuilder g, string input, List<FoldedLayer> layers)
    {
        var h = input;
        for (var i = 0; i < layers.Count; i++)
        {
            var wName = g.Constant($"layer{i}_weight", layers[i].Weight);
            var bName = g.Constant($"layer{i}_bias", layers[i].Bias);
            h = g.Node("Gemm", [h, wName, bName], null, IntAttribute("transB", 1));
            if (layers[i].Relu) h = g.Node("Relu", [h]);
        }
        return h;
    }

    /// <summary>"frame_error": each row's mean of (<paramref name="target"/> − <paramref name="estimate"/>)², each term multiplied by its weight when <paramref name="errorWeights"/> are given.</summary>
    internal static void FrameError(OnnxGraphBuilder g, string target, string estimate, float[]? errorWeights)
    {
        var diff = g.Node("Sub", [target, estimate]);
        var squared = g.Node("Mul", [diff, diff]);
        if (errorWeights is not null) squared = g.Node("Mul", [squared, g.Constant("error_weights", new NdArray([errorWeights.Length], errorWeights))]);
        g.Node("ReduceMean", [squared], "frame_error", IntsAttribute("axes", 1), IntAttribute("keepdims", 0));
    }

    static GraphProto Graph(List<FoldedLayer> layers, int inputSize, float[]? errorWeights)
    {
        var g = new OnnxGraphBuilder("autoencoder_scorer");
        var d = inputSize.ToString();
        var x = g.Input("features", DataType.Float, FramesDim, d);
        var h = g.Node("Identity", [Layers(g, x, layers)], "reconstruction");
        FrameError(g, x, h, errorWeights);
        g.Output("frame_error", DataType.Float, FramesDim);
        g.Output("reconstruction", DataType.Float, FramesDim, d);
        return g.Build();
    }
}
