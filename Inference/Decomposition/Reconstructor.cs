using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Inference.Decomposition;

/// <summary>Reconstructs data from activations with an exported model's fixed templates: W·H.</summary>
public sealed class Reconstructor : IDisposable
{
    public const string Role = "reconstruction";
    readonly ModelPackage _package;
    readonly bool _ownsPackage;

    public Reconstructor(string modelDirectory, SessionOptions? options = null)
        : this(ModelPackage.Open(modelDirectory, options), ownsPackage: true) { }

    public Reconstructor(ModelPackage package) : this(package, ownsPackage: false) { }

    Reconstructor(ModelPackage package, bool ownsPackage)
    {
        _package = package;
        _ownsPackage = ownsPackage;
        Info = package.Manifest.Decomposition
            ?? throw new ModelContractException($"{package.Directory}: a '{package.Manifest.Kind}' model is not a decomposition model");
        package.Graph(Role);
    }

    public DecompositionInfo Info { get; }

    /// <summary>W·H (features, frames) for activations <paramref name="h"/> (rank, frames).</summary>
    public NdArray Reconstruct(NdArray h)
    {
        DecompositionInput.Validate(h, Info.Rank, beta: 1, "H", "rank");
        return _package.Session(Role).Run(new Dictionary<string, OrtInput> { ["H"] = OrtInput.Float(h) })["reconstruction"];
    }

    public void Dispose()
    {
        if (_ownsPackage) _package.Dispose();
    }
}

/// <summary>The checks every decomposition input gets before it reaches ONNX Runtime.</summary>
internal static class DecompositionInput
{
    public static void Validate(NdArray x, int rows, double beta, string name, string rowMeaning)
    {
        if (x.Rank != 2) throw new InvalidInputException($"{name} must be a matrix ({rowMeaning}, frames), got shape {x.ShapeText}");
        if (x.Rows != rows) throw new InvalidInputException($"{name} has shape {x.ShapeText} but the model expects ({rows}, frames): {rows} {rowMeaning}");
        if (x.Columns == 0) throw new InvalidInputException($"{name} is empty: shape {x.ShapeText}");
        x.RequireNonNegativeFinite(name);
        if (beta <= 0 && Array.IndexOf(x.Data, 0f) is var zero and >= 0)
            throw new InvalidInputException($"{name} holds a zero at {x.IndexText(zero)}, and the model's β = {beta} divergence is undefined for zeros");
    }
}
