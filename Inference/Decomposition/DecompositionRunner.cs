using Pipeline.Inference.Models;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Inference.Decomposition;

/// <summary>
/// What <see cref="ActivationEstimator"/> and <see cref="Reconstructor"/> share: an opened decomposition model
/// folder with the graph of one role, its <see cref="DecompositionInfo"/>, and the input checks.
/// </summary>
public abstract class DecompositionRunner : IDisposable
{
    readonly bool _ownsPackage;

    private protected DecompositionRunner(ModelPackage package, bool ownsPackage, string role)
    {
        Package = package;
        _ownsPackage = ownsPackage;
        Info = package.Manifest.Decomposition
            ?? throw new ModelContractException($"{package.Directory}: a '{package.Manifest.Kind}' model is not a decomposition model");
        Role = role;
        package.Graph(role);
    }

    /// <summary>Sizes and update settings of the model.</summary>
    public DecompositionInfo Info { get; }
    /// <summary>The graph role this runner uses.</summary>
    public string Role { get; }
    private protected ModelPackage Package { get; }

    /// <summary>The ONNX Runtime session of this runner's graph (opened on first use): its provider, metadata.</summary>
    public Runtime.ModelSession Session => Package.Session(Role);

    /// <summary>
    /// Checks an input before it reaches ONNX Runtime, as the training side checks it: plain NMF takes (rows, frames);
    /// the convolutional models (N, rows, *S) with as many dimensions as the graph declares.
    /// </summary>
    private protected void Validate(NdArray x, int rows, double beta, string name, string rowMeaning)
    {
        var spec = Package.Graph(Role).Inputs.First(i => i.Name == name);
        if (spec.Shape.Count == 2 && spec.FixedDim(0) is not null)
        {
            x.RequireDecompositionInput(name, rowMeaning, beta, rows); // plain NMF: (rows, frames)
            return;
        }
        var expected = "(" + string.Join(", ", spec.Shape) + ")";
        if (x.Shape.Length != spec.Shape.Count || Enumerable.Range(0, x.Shape.Length).Any(a => spec.FixedDim(a) is { } d && x.Shape[a] != d))
            throw new InvalidInputException($"{name} of shape {x.ShapeText}; this '{Package.Manifest.Kind}' model takes {expected}");
        if (x.Data.Length == 0) throw new InvalidInputException($"{name} is empty");
        x.RequireNonNegativeFinite(name);
        if (beta <= 0 && x.Data.Any(v => v == 0)) throw new InvalidInputException($"{name} holds zeros, which β = {beta} cannot take");
    }

    /// <summary>
    /// <paramref name="x"/> with a leading batch axis of 1 when the graph takes one more axis than it has (a single
    /// spectrogram given to a convolutional model), else <paramref name="x"/> itself.
    /// </summary>
    private protected NdArray WithBatchAxis(NdArray x, string name)
    {
        var spec = Package.Graph(Role).Inputs.First(i => i.Name == name);
        return spec.Shape.Count == x.Shape.Length + 1 && x.Shape.Length >= 2 ? new NdArray([1, .. x.Shape], x.Data) : x;
    }

    /// <summary>
    /// Multiplicative updates over finite, non-negative input can still overflow float32 (V near 1e36 squares past
    /// 3.4e38): an output that is not finite is an error about the input, never a result to write.
    /// </summary>
    private protected static void RequireFinite(NdArray output, string name, string input)
    {
        var at = output.FirstNonFinite();
        if (at < 0) return;
        throw new InvalidInputException(
            $"{name} came out {(float.IsNaN(output.Data[at]) ? "NaN" : "infinite")} at {output.IndexText(at)}: {input}'s values overflow float32 in the updates; scale {input} down (e.g. to a peak near 1)");
    }

    /// <summary>An output of a batch of one without its batch axis.</summary>
    private protected static NdArray WithoutBatchAxis(NdArray x) => new([.. x.Shape[1..]], x.Data);

    public void Dispose()
    {
        if (_ownsPackage) Package.Dispose();
        GC.SuppressFinalize(this);
    }
}
