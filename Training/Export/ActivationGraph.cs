using Pipeline.Training.Decomposition;
using Pipeline.Training.Export.Proto;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// The activation graph NMF and the convolutional family export: V and an iteration count (default from the
/// manifest) → H and the reconstruction, by <see cref="ActivationUpdate"/> inside an ONNX <c>Loop</c> (its
/// loop-invariant terms computed once, before the loop), from the model's own start.
/// </summary>
internal static class ActivationGraph
{
    /// <summary>Completes <paramref name="graph"/>, whose input <paramref name="v"/> and template constants exist, and builds it.</summary>
    public static GraphProto Build(OnnxGraphBuilder graph, string graphName, string v, OnnxTemplates templates, string[] vDims, string[] hDims,
        double beta, float epsilon, int iterations)
    {
        var count = graph.InputWithDefault("iterations", iterations);
        var outer = new OnnxActivationOperations(graph, templates, graphName);
        var start = outer.Initial(v);
        var invariants = ActivationUpdate.Prepare(outer, v, beta, epsilon);

        var body = new OnnxGraphBuilder($"{graphName}_update");
        body.Input("iteration", DataType.Int64);
        var keepGoing = body.Input("cond_in", DataType.Bool);
        var h = body.Input("H_in", DataType.Float, hDims);
        var next = ActivationUpdate.Step(new OnnxActivationOperations(body, templates, $"{graphName}_update"), invariants, v, h, beta, epsilon);
        body.Node("Identity", [keepGoing], "cond_out");
        body.Node("Identity", [next], "H_out");
        body.Output("cond_out", DataType.Bool);
        body.Output("H_out", DataType.Float, hDims);

        graph.Nodes("Loop", [count, graph.Bool("keep_going", true), start], ["H"], GraphAttribute("body", body.Build()));
        graph.Node("Identity", [templates.Reconstruct(graph, "H")], "reconstruction");
        graph.Output("H", DataType.Float, hDims);
        graph.Output("reconstruction", DataType.Float, vDims);
        return graph.Build();
    }
}
