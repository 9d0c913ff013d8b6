using Pipeline.Shared.Arrays;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Engine;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a fitted PLCA or SIPLCA with its templates W fixed: <c>model.onnx</c> (role <c>activations</c>) runs the
/// EM of <see cref="PlcaComponent.EstimateActivations"/> in an ONNX <c>Loop</c> (V → H, the joint activations scaled
/// by V's mass, and the reconstruction); <c>reconstruction.onnx</c> maps such H back to V̂. PLCA's products are
/// MatMuls, SIPLCA's are Conv/ConvTranspose, exactly as in training.
/// </summary>
public static class PlcaExport
{
    public const string ActivationsFile = "model.onnx", ReconstructionFile = "reconstruction.onnx";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    public static ModelManifest Export(PlcaComponent model, string directory, string name, int iterations, float epsilon = BetaDivergence.DefaultEpsilon)
    {
        if (iterations < 0) throw new Shared.Errors.InvalidOptionException($"iterations must be ≥ 0, got {iterations}");
        var w = model.W.detach();
        int c = (int)w.shape[0], r = (int)w.shape[1];
        var convolutional = model is Siplca;
        var spatial = (int)w.dim() - 2;
        string[] vDims = convolutional ? ["batch", c.ToString(), .. Enumerable.Range(1, spatial).Select(i => $"size{i}")] : ["samples", c.ToString()];
        string[] hDims = convolutional ? ["batch", r.ToString(), .. Enumerable.Range(1, spatial).Select(i => $"positions{i}")] : ["samples", r.ToString()];
        var manifest = new ModelManifest
        {
            Kind = convolutional ? (spatial == 1 ? "siplca" : $"siplca{spatial}") : "plca",
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs =
            [
                new GraphSpec("activations", ActivationsFile,
                    [new TensorSpec("V", "float32", vDims, "non-negative data"), new TensorSpec("iterations", "int64", [], "EM iterations", iterations.ToString())],
                    [new TensorSpec("H", "float32", hDims, "joint activations P(sample, component) × V's mass"), new TensorSpec("reconstruction", "float32", vDims, "the model's V̂")]),
                new GraphSpec("reconstruction", ReconstructionFile,
                    [new TensorSpec("H", "float32", hDims, "joint activations")],
                    [new TensorSpec("reconstruction", "float32", vDims, "the model's V̂")]),
            ],
            Decomposition = new DecompositionInfo(c, r, 1, epsilon, iterations, convolutional
                ? "V (N, C, *S) ≈ Σ over kernel offsets of W (C, R, *K) shifted against H (N, R, *(S − K + 1)); W's columns are distributions"
                : "V (N, C) ≈ H (N, R) · Wᵀ with W (C, R) column distributions and H the joint activations"),
        };
        // the weight both directions use: Wᵀ (R, C) for PLCA, W with its first two axes swapped (R, C, *K) for SIPLCA
        var weight = TorchArrays.ToNdArray(w.transpose(0, 1));
        return OnnxModelWriter.WriteFolder(directory, manifest, new Dictionary<string, GraphProto>
        {
            [ActivationsFile] = ActivationGraph(weight, vDims, hDims, convolutional, r, iterations, epsilon),
            [ReconstructionFile] = ReconstructionGraph(weight, vDims, hDims, convolutional),
        });
    }

    static string Forward(OnnxGraphBuilder g, string a, string weight, bool convolutional) =>
        g.Node(convolutional ? "ConvTranspose" : "MatMul", [a, weight]);

    static GraphProto ReconstructionGraph(NdArray weight, string[] vDims, string[] hDims, bool convolutional)
    {
        var g = new OnnxGraphBuilder("plca_reconstruction");
        var h = g.Input("H", DataType.Float, hDims);
        g.Node("Identity", [Forward(g, h, g.Constant("W_t", weight), convolutional)], "reconstruction");
        g.Output("reconstruction", DataType.Float, vDims);
        return g.Build();
    }

    static GraphProto ActivationGraph(NdArray weight, string[] vDims, string[] hDims, bool convolutional, int rank, int iterations, float epsilon)
    {
        var g = new OnnxGraphBuilder("plca_activations");
        var v = g.Input("V", DataType.Float, vDims);
        var n = g.InputWithDefault("iterations", iterations);
        var wt = g.Constant("W_t", weight);
        var mass = g.Node("ReduceSum", [v], null, IntAttribute("keepdims", 0));
        var normalised = g.Node("Div", [v, mass]);
        // uniform start of H's shape: for SIPLCA the valid correlation of V has it; for PLCA (samples, rank)
        string ones;
        if (convolutional) ones = g.Node("Add", [g.Node("Mul", [g.Node("Conv", [v, wt]), g.Scalar("zero", 0f)]), g.Scalar("one", 1f)]);
        else
        {
            var samples = g.Node("Gather", [g.Node("Shape", [v]), g.Int64Vector("samples_axis", 0)], null, IntAttribute("axis", 0));
            var shape = g.Node("Concat", [samples, g.Int64Vector("rank_dim", rank)], null, IntAttribute("axis", 0));
            ones = g.Node("Expand", [g.Scalar("one", 1f), shape]);
        }
        var a0 = g.Node("Div", [ones, g.Node("ReduceSum", [ones], null, IntAttribute("keepdims", 0))]);

        var b = new OnnxGraphBuilder("plca_update");
        b.Input("iteration", DataType.Int64);
        var condIn = b.Input("cond_in", DataType.Bool);
        var a = b.Input("A_in", DataType.Float, hDims);
        var y = b.Node("Max", [Forward(b, a, wt, convolutional), b.Scalar("epsilon", epsilon)]);
        var ratio = b.Node("Div", [normalised, y]);
        // Σ R·∂V̂/∂A: the adjoint product (Rᵀ-weighted correlation) of the ratio with the templates
        var gradient = convolutional ? b.Node("Conv", [ratio, wt]) : b.Node("MatMul", [ratio, b.Node("Transpose", [wt])]);
        var next = b.Node("Mul", [a, gradient]);
        b.Node("Div", [next, b.Node("ReduceSum", [next], null, IntAttribute("keepdims", 0))], "A_out");
        b.Node("Identity", [condIn], "cond_out");
        b.Output("cond_out", DataType.Bool);
        b.Output("A_out", DataType.Float, hDims);

        g.Nodes("Loop", [n, g.Bool("keep_going", true), a0], ["A"], GraphAttribute("body", b.Build()));
        g.Node("Mul", ["A", mass], "H");
        g.Node("Mul", [Forward(g, "A", wt, convolutional), mass], "reconstruction");
        g.Output("H", DataType.Float, hDims);
        g.Output("reconstruction", DataType.Float, vDims);
        return g.Build();
    }
}
