using Pipeline.Shared.Manifest;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Decomposition;

/// <summary>Activations of one input and the reconstruction they give.</summary>
/// <param name="Activations">H, (rank, frames).</param>
/// <param name="Reconstruction">W·H, (features, frames).</param>
public sealed record ActivationResult(NdArray Activations, NdArray Reconstruction);

/// <summary>
/// Estimates activations H of new data V (features, frames) against the fixed templates of an exported
/// decomposition model, by the model's fixed number of multiplicative updates (or as many as asked).
/// </summary>
public sealed class ActivationEstimator : DecompositionRunner
{
    /// <summary>Opens the model folder at <paramref name="modelDirectory"/>.</summary>
    public ActivationEstimator(string modelDirectory, RuntimeOptions? options = null)
        : base(ModelPackage.Open(modelDirectory, options), ownsPackage: true, "activations") { }

    /// <summary>Uses an already opened model folder (which the caller keeps and disposes).</summary>
    public ActivationEstimator(ModelPackage package) : base(package, ownsPackage: false, "activations") { }

    /// <summary>Estimates H for <paramref name="v"/>.</summary>
    /// <param name="iterations">Multiplicative updates to run; the manifest's default when null.</param>
    /// <exception cref="InvalidInputException">V is not (features, frames) — or (N, features, *S) for the convolutional models, where (features, *S) stands for N = 1 —, or holds negative, non-finite or (for β ≤ 0) zero values.</exception>
    public ActivationResult Estimate(NdArray v, int? iterations = null)
    {
        var batched = WithBatchAxis(v, "V");
        Validate(batched, Info.Features, Info.Beta, "V", "features");
        var n = iterations ?? Info.DefaultIterations;
        if (n < 0 || n > ManifestValidation.MaxIterations) throw new InvalidOptionException($"iterations must lie in [0, {ManifestValidation.MaxIterations}], got {n}");
        var outputs = Package.Session(Role).Run(new Dictionary<string, ModelInput>
        {
            ["V"] = ModelInput.Float(batched),
            ["iterations"] = ModelInput.Int64Scalar(n),
        });
        RequireFinite(outputs["H"], "H", "V");
        RequireFinite(outputs["reconstruction"], "W·H", "V");
        return ReferenceEquals(batched, v)
            ? new ActivationResult(outputs["H"], outputs["reconstruction"])
            : new ActivationResult(WithoutBatchAxis(outputs["H"]), WithoutBatchAxis(outputs["reconstruction"]));
    }
}
