using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Vae;
using TorchSharp.Modules;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a trained <see cref="VariationalAutoencoder"/> as two graphs with the normalisation baked in:
/// <list type="bullet">
/// <item><c>model.onnx</c> (role <c>scorer</c>): features (frames, D) in raw units → latent_mean, latent_log_variance
/// (frames, J), reconstruction (frames, D; the posterior mean decoded, in raw units) and frame_error, the negative
/// ELBO with the mean latent: ½Σ(log 2π + (x̃ − x̂)²) + KL(q(z|x) ‖ N(0, I)) on normalised x̃.</item>
/// <item><c>decoder.onnx</c> (role <c>decoder</c>): latent (frames, J) → reconstruction (frames, D) in raw units.</item>
/// </list>
/// </summary>
public static class VaeExport
{
    public const string ModelFile = "model.onnx", DecoderFile = "decoder.onnx";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    public static ModelManifest Export(VariationalAutoencoder model, string directory, string name, FrontEndConfig? frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null)
    {
        int d = model.InputSize, j = model.LatentSize;
        if (frontEnd is not null && frontEnd.Dimensions != d)
            throw new Shared.Errors.ModelContractException($"the front end gives {frontEnd.Dimensions} values per frame but the VAE takes {d}");
        string D = d.ToString(), J = j.ToString();
        var manifest = new ModelManifest
        {
            Kind = "vae",
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs =
            [
                new GraphSpec("scorer", ModelFile,
                    [new TensorSpec("features", "float32", ["frames", D], "raw features (normalised inside the graph)")],
                    [
                        new TensorSpec("latent_mean", "float32", ["frames", J], "posterior mean μ"),
                        new TensorSpec("latent_log_variance", "float32", ["frames", J], "posterior log σ²"),
                        new TensorSpec("reconstruction", "float32", ["frames", D], "decoded posterior mean, raw units"),
                        new TensorSpec("frame_error", "float32", ["frames"], "negative ELBO with the mean latent (reconstruction NLL + KL)"),
                    ]),
                new GraphSpec("decoder", DecoderFile,
                    [new TensorSpec("latent", "float32", ["frames", J], "latent codes")],
                    [new TensorSpec("reconstruction", "float32", ["frames", D], "decoded features, raw units")]),
            ],
            FrontEnd = frontEnd,
            Anomaly = scoring,
            Training = training,
            // every parameter and buffer (the normalisation) in state-dict order
            ParametersSha256 = AutoencoderExport.ParametersHash(model.state_dict().Values.Select(Array)),
        };
        return OnnxModelWriter.WriteFolder(directory, manifest, new Dictionary<string, GraphProto>
        {
            [ModelFile] = ScorerGraph(model),
            [DecoderFile] = DecoderGraph(model),
        });
    }

    static NdArray Array(TorchSharp.torch.Tensor t) => Engine.TorchArrays.ToNdArray(t);

    static string Dense(OnnxGraphBuilder g, string input, Linear layer, string prefix)
    {
        var w = g.Constant(prefix + "_weight", Array(layer.weight));
        var b = g.Constant(prefix + "_bias", Array(layer.bias!));
        return g.Node("Gemm", [input, w, b], null, IntAttribute("transB", 1));
    }

    static string Stack(OnnxGraphBuilder g, string input, Sequential layers, string prefix)
    {
        var h = input;
        var i = 0;
        foreach (var module in layers.children())
            h = module switch
            {
                Linear linear => Dense(g, h, linear, $"{prefix}{i++}"),
                ReLU => g.Node("Relu", [h]),
                _ => throw new InvalidOperationException($"cannot export a {module.GetType().Name} layer"),
            };
        return h;
    }

    static string Denormalise(OnnxGraphBuilder g, string normalised, VariationalAutoencoder model, string output) =>
        g.Node("Add", [g.Node("Mul", [normalised, g.Constant("input_std", Array(model.InputStd))]), g.Constant("input_mean", Array(model.InputMean))], output);

    static GraphProto ScorerGraph(VariationalAutoencoder model)
    {
        string D = model.InputSize.ToString(), J = model.LatentSize.ToString();
        var g = new OnnxGraphBuilder("vae_scorer");
        var x = g.Input("features", DataType.Float, "frames", D);
        var normalised = g.Node("Div", [g.Node("Sub", [x, g.Constant("normalise_mean", Array(model.InputMean))]), g.Constant("normalise_std", Array(model.InputStd))]);
        var h = Stack(g, normalised, model.Encoder, "encoder");
        var mean = g.Node("Identity", [Dense(g, h, model.MeanHead, "mean")], "latent_mean");
        var logVariance = g.Node("Identity", [Dense(g, h, model.LogVarianceHead, "log_variance")], "latent_log_variance");
        var decoded = Stack(g, mean, model.Decoder, "decoder");
        Denormalise(g, decoded, model, "reconstruction");
        // ½Σ(log 2π + (x̃ − x̂)²) − ½Σ(1 + log σ² − μ² − σ²)
        var diff = g.Node("Sub", [normalised, decoded]);
        var squared = g.Node("Mul", [diff, diff]);
        var nll = g.Node("ReduceSum", [g.Node("Add", [squared, g.Scalar("log_two_pi", (float)Math.Log(2 * Math.PI))]), g.Int64Vector("feature_axis", 1)], null, IntAttribute("keepdims", 0));
        var inside = g.Node("Sub", [g.Node("Sub", [g.Node("Add", [logVariance, g.Scalar("one", 1f)]), g.Node("Mul", [mean, mean])]), g.Node("Exp", [logVariance])]);
        var kl = g.Node("ReduceSum", [inside, g.Int64Vector("latent_axis", 1)], null, IntAttribute("keepdims", 0));
        g.Node("Mul", [g.Node("Sub", [nll, kl]), g.Scalar("half", 0.5f)], "frame_error");
        g.Output("latent_mean", DataType.Float, "frames", J);
        g.Output("latent_log_variance", DataType.Float, "frames", J);
        g.Output("reconstruction", DataType.Float, "frames", D);
        g.Output("frame_error", DataType.Float, "frames");
        return g.Build();
    }

    static GraphProto DecoderGraph(VariationalAutoencoder model)
    {
        var g = new OnnxGraphBuilder("vae_decoder");
        var z = g.Input("latent", DataType.Float, "frames", model.LatentSize.ToString());
        Denormalise(g, Stack(g, z, model.Decoder, "decoder"), model, "reconstruction");
        g.Output("reconstruction", DataType.Float, "frames", model.InputSize.ToString());
        return g.Build();
    }
}
