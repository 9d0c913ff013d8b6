using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Networks;
using static TorchSharp.torch;

namespace Pipeline.Training.Export;

/// <summary>Exports whichever frame-error detector an anomaly job trained, by its own exporter.</summary>
public static class DetectorExport
{
    /// <summary>Writes the model folder of <paramref name="model"/> and returns the manifest as written.</summary>
    /// <exception cref="ArgumentException">The model is not a detector this build exports.</exception>
    public static ModelManifest Export(nn.Module<Tensor, Tensor> model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null) => model switch
    {
        InterpolationNetwork idnn => InterpolationExport.Export(idnn, directory, name, frontEnd, scoring, training),
        Autoencoder autoencoder => AutoencoderExport.Export(autoencoder, directory, name, frontEnd, scoring, training),
        _ => throw new ArgumentException($"a {model.GetType().Name} is not an anomaly detector this build exports", nameof(model)),
    };
}
