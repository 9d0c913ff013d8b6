using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;

namespace Pipeline.Inference.Decomposition;

/// <summary>Reconstructs data from activations with an exported model's fixed templates: W·H.</summary>
public sealed class Reconstructor : DecompositionRunner
{
    public Reconstructor(string modelDirectory, RuntimeOptions? options = null)
        : base(ModelPackage.Open(modelDirectory, options), ownsPackage: true, "reconstruction") { }

    public Reconstructor(ModelPackage package) : base(package, ownsPackage: false, "reconstruction") { }

    /// <summary>W·H (features, frames) for activations <paramref name="h"/> (rank, frames); for the convolutional models Σ W ⊛ H from H (N, rank, *S′).</summary>
    public NdArray Reconstruct(NdArray h)
    {
        var batched = WithBatchAxis(h, "H");
        Validate(batched, Info.Rank, beta: 1, "H", "rank");
        var reconstruction = Package.Session(Role).Run(new Dictionary<string, ModelInput> { ["H"] = ModelInput.Float(batched) })["reconstruction"];
        RequireFinite(reconstruction, "W·H", "H");
        return ReferenceEquals(batched, h) ? reconstruction : WithoutBatchAxis(reconstruction);
    }
}
