using Pipeline.Training.Decomposition;

namespace Pipeline.Training.Export;

/// <summary>How a model's fixed templates act, as ONNX nodes added to the given graph (the templates are constants of the outer graph).</summary>
/// <param name="TemplateSums">The name of the constant holding each component's template sum, shaped to broadcast against H.</param>
internal sealed record OnnxTemplates(
    Func<OnnxGraphBuilder, string, string> Reconstruct,
    Func<OnnxGraphBuilder, string, string> Correlate,
    Func<OnnxGraphBuilder, string, string> Normal,
    string TemplateSums,
    Func<OnnxGraphBuilder, string, string> Initial);

/// <summary>
/// <see cref="ActivationUpdate"/>'s operations as nodes of one ONNX graph: the exported activation graph runs the
/// definition the trainer runs (<see cref="TorchActivationOperations"/>). Values are the names of graph values.
/// </summary>
internal sealed class OnnxActivationOperations(OnnxGraphBuilder graph, OnnxTemplates templates, string prefix) : IActivationOperations<string>
{
    readonly Dictionary<string, string> _scalars = [];

    public string Reconstruct(string h) => templates.Reconstruct(graph, h);
    public string Correlate(string x) => templates.Correlate(graph, x);
    public string Normal(string h) => templates.Normal(graph, h);
    public string TemplateSums() => templates.TemplateSums;
    public string Initial(string v) => templates.Initial(graph, v);
    public string Multiply(string a, string b) => graph.Node("Mul", [a, b]);
    public string Divide(string a, string b) => graph.Node("Div", [a, b]);
    public string Floor(string a, float floor) => graph.Node("Max", [a, Scalar("floor", floor)]);
    public string Power(string a, float exponent) => graph.Node("Pow", [a, Scalar("exponent", exponent)]);
    public string Reciprocal(string a) => graph.Node("Reciprocal", [a]);

    /// <summary>A float32 scalar constant of this graph, one per value.</summary>
    string Scalar(string purpose, float value)
    {
        var name = $"{prefix}/{purpose}_{value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}";
        if (!_scalars.TryGetValue(name, out var existing)) _scalars[name] = existing = graph.Scalar(name, value);
        return existing;
    }
}
