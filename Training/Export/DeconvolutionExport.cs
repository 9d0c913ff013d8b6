using Pipeline.Shared.Arrays;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using Pipeline.Training.Export.Proto;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a fitted NMFD / NMF2D / NMF3D with its templates fixed, as two graphs:
/// <list type="bullet">
/// <item><c>model.onnx</c> (role <c>activations</c>): V (N, C, *S) and an iteration count (default from the
/// manifest) → H (N, R, *(S − K + 1)) and the reconstruction, by β multiplicative updates of H inside an ONNX
/// <c>Loop</c>, ONNX Conv being the adjoint of the ConvTranspose that reconstructs: <see cref="ActivationUpdate"/>,
/// the definition <see cref="DeconvolutionComponent.EstimateActivations"/> runs.</item>
/// <item><c>reconstruction.onnx</c> (role <c>reconstruction</c>): H → V̂ by ConvTranspose.</item>
/// </list>
/// </summary>
public static class DeconvolutionExport
{
    public const string ActivationsFile = "model.onnx", ReconstructionFile = "reconstruction.onnx";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    public static ModelManifest Export(DeconvolutionComponent model, string directory, string name, double beta, int iterations,
        float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (iterations < 0) throw new Shared.Errors.InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        var weight = TorchArrays.ToNdArray(DeconvolutionComponent.TransposedTemplates(model.W.detach()));
        int c = (int)model.W.shape[0], r = (int)model.W.shape[1], spatial = model.Kernel.Count;
        var kind = spatial switch { 1 => "nmfd", 2 => "nmf2d", _ => "nmf3d" };
        string[] vDims = ["batch", c.ToString(), .. Enumerable.Range(1, spatial).Select(i => $"size{i}")];
        string[] hDims = ["batch", r.ToString(), .. Enumerable.Range(1, spatial).Select(i => $"positions{i}")];
        var v = new TensorSpec("V", "float32", vDims, "non-negative data (N, C, *S)");
        var h = new TensorSpec("H", "float32", hDims, "activations (N, R, *(S − K + 1))");
        var reconstruction = new TensorSpec("reconstruction", "float32", vDims, "Σ W ⊛ H, the shape of V");
        var count = new TensorSpec("iterations", "int64", [], "number of multiplicative updates of H", iterations.ToString());
        var manifest = new ModelManifest
        {
            Kind = kind,
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs =
            [
                new GraphSpec("activations", ActivationsFile, [v, count], [h, reconstruction]),
                new GraphSpec("reconstruction", ReconstructionFile, [h], [reconstruction]),
            ],
            Decomposition = new DecompositionInfo(c, r, beta, epsilon, iterations,
                $"V (N, C, *S) ≈ Σ over kernel offsets of W (C, R, {string.Join(", ", model.Kernel)}) shifted against H (N, R, *(S − K + 1))"),
        };
        return OnnxModelWriter.WriteFolder(directory, manifest, new Dictionary<string, GraphProto>
        {
            [ActivationsFile] = ActivationsGraph(weight, TemplateSums(model.W.detach()), vDims, hDims, beta, epsilon, iterations, model.W.detach().sum().item<float>()),
            [ReconstructionFile] = ReconstructionGraph(weight, vDims, hDims),
        });
    }

    /// <summary>Each component's sum over channels and kernel, (1, R, 1, …): the correlation of all ones, as the trainer forms it.</summary>
    static NdArray TemplateSums(TorchSharp.torch.Tensor w)
    {
        using var sums = TorchActivationOperations.Deconvolution(w).TemplateSums();
        return TorchArrays.ToNdArray(sums);
    }

    static GraphProto ReconstructionGraph(NdArray weight, string[] vDims, string[] hDims)
    {
        var g = new OnnxGraphBuilder("deconvolution_reconstruction");
        var h = g.Input("H", DataType.Float, hDims);
        g.Node("ConvTranspose", [h, g.Constant("W_t", weight)], "reconstruction");
        g.Output("reconstruction", DataType.Float, vDims);
        return g.Build();
    }

    static GraphProto ActivationsGraph(NdArray weight, NdArray templateSums, string[] vDims, string[] hDims, double beta, float epsilon, int iterations, float templateSum)
    {
        const string name = "deconvolution_activations";
        var g = new OnnxGraphBuilder(name);
        var v = g.Input("V", DataType.Float, vDims);
        var (wt, sums, inverseSum) = (g.Constant("W_t", weight), g.Constant("template_sums", templateSums), g.Scalar("inverse_template_sum", 1f / templateSum));
        var templates = new OnnxTemplates(
            (b, h) => b.Node("ConvTranspose", [h, wt]),
            (b, x) => b.Node("Conv", [x, wt]),
            (b, h) => b.Node("Conv", [b.Node("ConvTranspose", [h, wt]), wt]),
            sums,
            (b, data) => b.Node("Mul", [b.Node("Conv", [data, wt]), inverseSum]));
        return ActivationGraph.Build(g, name, v, templates, vDims, hDims, beta, epsilon, iterations);
    }
}
