using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Networks;
using static TorchSharp.torch;

namespace Pipeline.Training.Export;

/// <summary>Exports whichever detector an anomaly job trained, by its own exporter.</summary>
public static class DetectorExport
{
    /// <summary>Writes the model folder of <paramref name="model"/> and returns the manifest as written.</summary>
    /// <param name="errorWeights">Band normalisation's weights (the autoencoder and the interpolation network), or null.</param>
    /// <param name="embedding">The machine-ID classifier's embedding statistics (its frame error the distance to its ID), or null (−log p).</param>
    /// <exception cref="ArgumentException">The model is not a detector this build exports, or weights come with the classifier.</exception>
    public static ModelManifest Export(nn.Module<Tensor, Tensor> model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null, float[]? errorWeights = null, IdEmbeddingStatistics? embedding = null) => model switch
    {
        InterpolationNetwork idnn => InterpolationExport.Export(idnn, directory, name, frontEnd, scoring, training, errorWeights),
        Autoencoder autoencoder => AutoencoderExport.Export(autoencoder, directory, name, frontEnd, scoring, training, errorWeights),
        MachineIdClassifier classifier when errorWeights is null => MachineIdExport.Export(classifier, directory, name, frontEnd, scoring, training, embedding),
        ClipStatistics statistics when errorWeights is null && embedding is null => ClipStatisticsExport.Export(statistics, directory, name, frontEnd, scoring, training),
        _ => throw new ArgumentException($"a {model.GetType().Name} is not an anomaly detector this build exports", nameof(model)),
    };

    /// <summary>
    /// The scorer graph's spec every detector shares: context-stacked features (frames, <paramref name="inputSize"/>)
    /// first, then the detector's own inputs and its outputs.
    /// </summary>
    internal static GraphSpec ScorerSpec(int inputSize, IReadOnlyList<TensorSpec> moreInputs, IReadOnlyList<TensorSpec> outputs, string features = "context-stacked front-end features, one row per frame") =>
        new("scorer", AutoencoderExport.ModelFile,
            [new TensorSpec("features", "float32", [AutoencoderExport.FramesDim, inputSize.ToString()], features), .. moreInputs],
            outputs);

    /// <summary>The <c>machine_id</c> input of a scorer that knows <paramref name="ids"/> machine IDs.</summary>
    internal static TensorSpec MachineIdInput(int ids) =>
        new("machine_id", "int64", [], $"the clip's machine ID as an index into machineIds; {ids} for an ID not seen in training");

    /// <summary>Writes a detector's model folder: its manifest and its one scorer graph.</summary>
    internal static ModelManifest WriteScorer(string directory, ModelManifest manifest, Proto.GraphProto scorer) =>
        OnnxModelWriter.WriteFolder(directory, manifest, new Dictionary<string, Proto.GraphProto> { [AutoencoderExport.ModelFile] = scorer });
}
