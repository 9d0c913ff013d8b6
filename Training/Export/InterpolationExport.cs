using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Networks;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a trained <see cref="InterpolationNetwork"/> as one fixed graph, <c>model.onnx</c> (role <c>scorer</c>),
/// with the autoencoder's contract: context-stacked features (frames, D) → per-frame error (frames), here the mean
/// squared error between the predicted and the true centre frame, and the prediction (frames, bands). The graph
/// gathers the context and centre columns itself; dropout is dropped and BatchNorm folded as for the autoencoder.
/// </summary>
public static class InterpolationExport
{
    /// <summary>The manifest kind: an anomaly scorer the inference side runs like the autoencoder.</summary>
    public const string Kind = "anomaly-idnn";

    /// <summary>Writes the model folder of a trained network (its evaluation-mode function) and returns the manifest as written.</summary>
    /// <exception cref="Shared.Errors.ModelContractException">The front end does not give the network's window.</exception>
    /// <param name="errorWeights">Band normalisation's weights, one per band of the centre frame, or null for the plain mean squared error.</param>
    public static ModelManifest Export(InterpolationNetwork model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null, float[]? errorWeights = null)
    {
        if (errorWeights is not null && errorWeights.Length != model.Bands)
            throw new ArgumentException($"{errorWeights.Length} error weights for {model.Bands} bands", nameof(errorWeights));
        if (frontEnd.Dimensions != model.InputSize || frontEnd.ContextBefore != model.Context.Before || frontEnd.ContextAfter != model.Context.After)
            throw new Shared.Errors.ModelContractException($"the front end gives {frontEnd.Dimensions} values per frame ({frontEnd.ContextBefore} + {frontEnd.ContextAfter} context frames) but the interpolation network takes {model.InputSize} ({model.Context.Before} + {model.Context.After})");
        var layers = AutoencoderExport.Fold(model.Encoder.children().Concat(model.Decoder.children()));
        return DetectorExport.WriteScorer(directory, new ModelManifest
        {
            Kind = Kind,
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs = [DetectorExport.ScorerSpec(model.InputSize, [], [
                new TensorSpec("frame_error", "float32", [AutoencoderExport.FramesDim], AutoencoderExport.FrameErrorMeaning("prediction", errorWeights) + " (the centre frame)"),
                new TensorSpec("prediction", "float32", [AutoencoderExport.FramesDim, model.Bands.ToString()], "the centre frame predicted from the frames around it"),
            ])],
            FrontEnd = frontEnd,
            Anomaly = scoring,
            Training = training,
            ParametersSha256 = AutoencoderExport.ParametersHash(layers, errorWeights),
        }, Graph(model, layers, errorWeights));
    }

    static GraphProto Graph(InterpolationNetwork model, List<AutoencoderExport.FoldedLayer> layers, float[]? errorWeights)
    {
        var g = new OnnxGraphBuilder("interpolation_scorer");
        var x = g.Input("features", DataType.Float, AutoencoderExport.FramesDim, model.InputSize.ToString());
        var context = g.Node("Gather", [x, g.Int64Vector("context_columns", [.. model.ContextColumns])], null, IntAttribute("axis", 1));
        var target = g.Node("Gather", [x, g.Int64Vector("centre_columns", [.. model.CentreColumns])], null, IntAttribute("axis", 1));
        var prediction = g.Node("Identity", [AutoencoderExport.Layers(g, context, layers)], "prediction");
        AutoencoderExport.FrameError(g, target, prediction, errorWeights);
        g.Output("frame_error", DataType.Float, AutoencoderExport.FramesDim);
        g.Output("prediction", DataType.Float, AutoencoderExport.FramesDim, model.Bands.ToString());
        return g.Build();
    }
}
