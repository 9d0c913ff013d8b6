using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using Pipeline.Training.Export.Proto;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a fitted <see cref="Nmf"/> as two fixed graphs:
/// <list type="bullet">
/// <item><c>model.onnx</c> (role <c>activations</c>): V (F, frames) → H (K, frames) and W·H, by a fixed number of
/// β multiplicative updates of H inside an ONNX <c>Loop</c>, W a constant: <see cref="ActivationUpdate"/>, the definition <see cref="Nmf.EstimateActivations"/> runs.</item>
/// <item><c>reconstruction.onnx</c> (role <c>reconstruction</c>): H (K, frames) → W·H (F, frames).</item>
/// </list>
/// </summary>
public static class NmfExport
{
    public const string ActivationsFile = "model.onnx";
    public const string ReconstructionFile = "reconstruction.onnx";
    public const string FramesDim = "frames";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    /// <param name="iterations">Default number of updates the activation graph runs.</param>
    /// <param name="frontEnd">For audio models: the STFT the templates were learned on (separation recomputes it).</param>
    /// <param name="sources">For separation models: which template columns belong to which source.</param>
    public static ModelManifest Export(Nmf model, string directory, string name, double beta, int iterations,
        TrainingSummary? training = null, float epsilon = BetaDivergence.DefaultEpsilon, FrontEndConfig? frontEnd = null,
        IReadOnlyList<SourceSpec>? sources = null)
    {
        var w = model.W ?? throw new InvalidOperationException("the model has no templates to export");
        if (iterations < 0) throw new Shared.Errors.InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        int f = w.Rows, k = w.Columns;
        var manifest = BuildManifest(name, f, k, beta, epsilon, iterations, training) with
        {
            ParametersSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Data.AsSpan()))),
            FrontEnd = frontEnd,
            Sources = sources,
        };
        var graphs = new Dictionary<string, GraphProto>
        {
            [ActivationsFile] = ActivationsGraph(w, beta, epsilon, iterations),
            [ReconstructionFile] = ReconstructionGraph(w),
        };
        return OnnxModelWriter.WriteFolder(directory, manifest, graphs);
    }

    static ModelManifest BuildManifest(string name, int f, int k, double beta, float epsilon, int iterations, TrainingSummary? training)
    {
        string F = f.ToString(), K = k.ToString();
        var v = new TensorSpec("V", "float32", [F, FramesDim], "non-negative spectrogram-like data, features × frames");
        var h = new TensorSpec("H", "float32", [K, FramesDim], "activations, rank × frames");
        var wh = new TensorSpec("reconstruction", "float32", [F, FramesDim], "W·H, features × frames");
        var n = new TensorSpec("iterations", "int64", [], "number of multiplicative updates of H", iterations.ToString());
        return new ModelManifest
        {
            Kind = "nmf",
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs =
            [
                new GraphSpec("activations", ActivationsFile, [v, n], [h, wh]),
                new GraphSpec("reconstruction", ReconstructionFile, [h], [wh]),
            ],
            Decomposition = new DecompositionInfo(f, k, beta, epsilon, iterations, "V (features, frames) ≈ W (features, rank) · H (rank, frames)"),
            Training = training,
        };
    }

    static GraphProto ReconstructionGraph(NdArray w)
    {
        int f = w.Rows, k = w.Columns;
        var g = new OnnxGraphBuilder("nmf_reconstruction");
        var h = g.Input("H", DataType.Float, k.ToString(), FramesDim);
        var wc = g.Constant("W", w);
        g.Node("MatMul", [wc, h], "reconstruction");
        g.Output("reconstruction", DataType.Float, f.ToString(), FramesDim);
        return g.Build();
    }

    static GraphProto ActivationsGraph(NdArray w, double beta, float epsilon, int iterations)
    {
        int f = w.Rows, k = w.Columns;
        const string name = "nmf_activations";
        var g = new OnnxGraphBuilder(name);
        var v = g.Input("V", DataType.Float, f.ToString(), FramesDim);
        var (transposed, gramMatrix, columnSums) = Invariants(w);
        var (wc, wt, gram, sums) = (g.Constant("W", w), g.Constant("W_t", transposed), g.Constant("WtW", gramMatrix), g.Constant("W_column_sums", columnSums));
        var templates = new OnnxTemplates(
            (b, h) => b.Node("MatMul", [wc, h]),
            (b, x) => b.Node("MatMul", [wt, x]),
            (b, h) => b.Node("MatMul", [gram, h]),
            sums,
            (b, data) => InitialActivations(b, data, k));
        return ActivationGraph.Build(g, name, v, templates, [f.ToString(), FramesDim], [k.ToString(), FramesDim], beta, epsilon, iterations);
    }

    /// <summary>H₀ = √(mean(V)/K) everywhere, shaped (K, frames).</summary>
    static string InitialActivations(OnnxGraphBuilder g, string v, int k)
    {
        var mean = g.Node("ReduceMean", [v], null, IntAttribute("keepdims", 0));
        var start = g.Node("Sqrt", [g.Node("Div", [mean, g.Scalar("rank", k)])]);
        var frames = g.Node("Gather", [g.Node("Shape", [v]), g.Int64Vector("frames_axis", 1)], null, IntAttribute("axis", 0));
        var shape = g.Node("Concat", [g.Int64Vector("rank_dim", k), frames], null, IntAttribute("axis", 0));
        return g.Node("Expand", [start, shape]);
    }

    /// <summary>Wᵀ, WᵀW and the column sums (K, 1), formed by the trainer's own activation operations (one computation).</summary>
    static (NdArray Transposed, NdArray Gram, NdArray ColumnSums) Invariants(NdArray w)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var templates = TorchArrays.FromNdArray(w);
        var operations = TorchActivationOperations.Nmf(templates);
        var gram = operations.Normal(TorchSharp.torch.eye(w.Columns)); // (WᵀW)·I
        return (TorchArrays.ToNdArray(templates.t()), TorchArrays.ToNdArray(gram), TorchArrays.ToNdArray(operations.TemplateSums()));
    }
}
