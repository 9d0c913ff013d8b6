using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export.Proto;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a fitted <see cref="Nmf"/> as two fixed graphs:
/// <list type="bullet">
/// <item><c>model.onnx</c> (role <c>activations</c>): V (F, frames) → H (K, frames) and W·H, by a fixed number of
/// β multiplicative updates of H inside an ONNX <c>Loop</c>, W a constant — exactly <see cref="Nmf.EstimateActivations"/>.</item>
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
            [ActivationsFile] = ActivationGraph(w, beta, epsilon, iterations),
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

    static GraphProto ActivationGraph(NdArray w, double beta, float epsilon, int iterations)
    {
        int f = w.Rows, k = w.Columns;
        var g = new OnnxGraphBuilder("nmf_activations");
        var v = g.Input("V", DataType.Float, f.ToString(), FramesDim);
        var n = g.InputWithDefault("iterations", iterations);
        var wc = g.Constant("W", w);
        var wt = g.Constant("W_t", Transpose(w));
        var eps = g.Scalar("epsilon", epsilon);

        // H0 = √(mean(V)/K) everywhere, shaped (K, frames).
        var mean = g.Node("ReduceMean", [v], null, IntAttribute("keepdims", 0));
        var start = g.Node("Sqrt", [g.Node("Div", [mean, g.Scalar("rank", k)])]);
        var frames = g.Node("Gather", [g.Node("Shape", [v]), g.Int64Vector("frames_axis", 1)], null, IntAttribute("axis", 0));
        var shape = g.Node("Concat", [g.Int64Vector("rank_dim", k), frames], null, IntAttribute("axis", 0));
        var h0 = g.Node("Expand", [start, shape]);

        var body = LoopBody(g, v, wc, wt, w, eps, beta, epsilon, k);
        g.Nodes("Loop", [n, g.Bool("keep_going", true), h0], ["H"], GraphAttribute("body", body));
        g.Node("MatMul", [wc, "H"], "reconstruction");
        g.Output("H", DataType.Float, k.ToString(), FramesDim);
        g.Output("reconstruction", DataType.Float, f.ToString(), FramesDim);
        return g.Build();
    }

    /// <summary>One H update, the same arithmetic as <see cref="MultiplicativeUpdates.UpdateH"/> without penalties.</summary>
    static GraphProto LoopBody(OnnxGraphBuilder outer, string v, string w, string wt, NdArray wValue, string eps,
        double beta, float epsilon, int k)
    {
        var b = new OnnxGraphBuilder("nmf_update");
        b.Input("iteration", DataType.Int64);
        var condIn = b.Input("cond_in", DataType.Bool);
        var h = b.Input("H_in", DataType.Float, k.ToString(), FramesDim);
        string ratio;
        if (beta == 2)
        {
            // WᵀV does not change across iterations: computed once, outside the loop.
            var wtv = outer.Node("MatMul", [wt, v], "WtV");
            var gram = outer.Constant("WtW", Gram(wValue));
            var d = b.Node("Max", [b.Node("MatMul", [gram, h]), eps]);
            ratio = b.Node("Div", [wtv, d]);
        }
        else
        {
            var y = b.Node("Max", [b.Node("MatMul", [w, h]), eps]);
            if (beta == 1)
            {
                var sums = ColumnSums(wValue);
                for (var i = 0; i < sums.Length; i++) sums.Data[i] = MathF.Max(sums.Data[i], epsilon);
                var d = outer.Constant("W_column_sums", sums);
                ratio = b.Node("Div", [b.Node("MatMul", [wt, b.Node("Div", [v, y])]), d]);
            }
            else
            {
                string x, dTerm;
                if (beta == 0)
                {
                    var r = b.Node("Reciprocal", [y]);
                    x = b.Node("Mul", [b.Node("Mul", [v, r]), r]);
                    dTerm = r;
                }
                else
                {
                    var p = b.Node("Pow", [y, b.Scalar("beta_minus_2", (float)(beta - 2))]);
                    x = b.Node("Mul", [p, v]);
                    dTerm = b.Node("Mul", [p, y]);
                }
                var num = b.Node("MatMul", [wt, x]);
                var den = b.Node("Max", [b.Node("MatMul", [wt, dTerm]), eps]);
                ratio = b.Node("Div", [num, den]);
                var gamma = (float)BetaMu.Exponent(beta);
                if (gamma != 1f) ratio = b.Node("Pow", [ratio, b.Scalar("gamma", gamma)]);
            }
        }
        b.Node("Identity", [condIn], "cond_out");
        b.Node("Mul", [h, ratio], "H_out");
        b.Output("cond_out", DataType.Bool);
        b.Output("H_out", DataType.Float, k.ToString(), FramesDim);
        return b.Build();
    }

    static NdArray Transpose(NdArray m)
    {
        var t = NdArray.Zeros(m.Columns, m.Rows);
        for (var r = 0; r < m.Rows; r++)
            for (var c = 0; c < m.Columns; c++)
                t[c, r] = m[r, c];
        return t;
    }

    static NdArray Gram(NdArray w)
    {
        var g = NdArray.Zeros(w.Columns, w.Columns);
        Linalg.Blas.Gemm(true, false, w.Columns, w.Columns, w.Rows, 1f, w.Data, w.Columns, w.Data, w.Columns, 0f, g.Data, w.Columns);
        return g;
    }

    static NdArray ColumnSums(NdArray w)
    {
        var s = NdArray.Zeros(w.Columns, 1);
        for (var r = 0; r < w.Rows; r++)
            for (var c = 0; c < w.Columns; c++)
                s.Data[c] += w[r, c];
        return s;
    }
}
