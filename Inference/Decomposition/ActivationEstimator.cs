using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Inference.Decomposition;

/// <summary>Activations of one input and the reconstruction they give.</summary>
/// <param name="Activations">H, (rank, frames).</param>
/// <param name="Reconstruction">W·H, (features, frames).</param>
public sealed record ActivationResult(NdArray Activations, NdArray Reconstruction);

/// <summary>
/// Estimates activations H of new data V (features, frames) against the fixed templates of an exported
/// decomposition model, by the model's fixed number of multiplicative updates (or as many as asked).
/// </summary>
public sealed class ActivationEstimator : IDisposable
{
    public const string Role = "activations";
    readonly ModelPackage _package;
    readonly bool _ownsPackage;

    /// <summary>Opens the model folder at <paramref name="modelDirectory"/>.</summary>
    public ActivationEstimator(string modelDirectory, SessionOptions? options = null)
        : this(ModelPackage.Open(modelDirectory, options), ownsPackage: true) { }

    /// <summary>Uses an already opened model folder (which the caller keeps and disposes).</summary>
    public ActivationEstimator(ModelPackage package) : this(package, ownsPackage: false) { }

    ActivationEstimator(ModelPackage package, bool ownsPackage)
    {
        _package = package;
        _ownsPackage = ownsPackage;
        Info = package.Manifest.Decomposition
            ?? throw new ModelContractException($"{package.Directory}: a '{package.Manifest.Kind}' model is not a decomposition model");
        package.Graph(Role);
    }

    /// <summary>Sizes and update settings of the model.</summary>
    public DecompositionInfo Info { get; }

    /// <summary>Estimates H for <paramref name="v"/>.</summary>
    /// <param name="iterations">Multiplicative updates to run; the manifest's default when null.</param>
    /// <exception cref="InvalidInputException">V is not (features, frames), or holds negative, non-finite or (for β ≤ 0) zero values.</exception>
    public ActivationResult Estimate(NdArray v, int? iterations = null)
    {
        DecompositionInput.Validate(v, Info.Features, Info.Beta, "V", "features");
        var n = iterations ?? Info.DefaultIterations;
        if (n < 0) throw new InvalidOptionException($"iterations must be ≥ 0, got {n}");
        var outputs = _package.Session(Role).Run(new Dictionary<string, OrtInput>
        {
            ["V"] = OrtInput.Float(v),
            ["iterations"] = OrtInput.Int64Scalar(n),
        });
        return new ActivationResult(outputs["H"], outputs["reconstruction"]);
    }

    public void Dispose()
    {
        if (_ownsPackage) _package.Dispose();
    }
}
