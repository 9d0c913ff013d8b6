using Google.Protobuf;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Export.Proto;

namespace Pipeline.Training.Export;

/// <summary>
/// Builds one ONNX graph (or a <c>Loop</c> body): inputs, constant initializers, nodes and outputs, with
/// generated names for intermediate values. Shapes are given as text per dimension, as in the manifest:
/// digits for a fixed size, a name for a free dimension (<c>frames</c>).
/// </summary>
public sealed class OnnxGraphBuilder(string name)
{
    readonly GraphProto _graph = new() { Name = name };
    readonly HashSet<string> _names = [];
    int _counter;

    /// <summary>Declares a graph input and returns its name.</summary>
    public string Input(string valueName, TensorProto.Types.DataType type, params string[] shape)
    {
        Claim(valueName);
        _graph.Input.Add(ValueInfo(valueName, type, shape));
        return valueName;
    }

    /// <summary>An input with a default: the initializer's value is used unless the caller feeds one.</summary>
    public string InputWithDefault(string valueName, long value)
    {
        Input(valueName, TensorProto.Types.DataType.Int64);
        _graph.Initializer.Add(new TensorProto { Name = valueName, DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { value } });
        return valueName;
    }

    /// <summary>Marks an existing value as a graph output with the given declared shape.</summary>
    public void Output(string valueName, TensorProto.Types.DataType type, params string[] shape) =>
        _graph.Output.Add(ValueInfo(valueName, type, shape));

    /// <summary>A float32 constant of any shape; a fitted parameter that is not finite is never exported.</summary>
    /// <exception cref="InvalidInputException">A value is NaN or infinite (training diverged).</exception>
    public string Constant(string valueName, NdArray value)
    {
        if (value.FirstNonFinite() is >= 0 and var at)
            throw new InvalidInputException($"the fitted parameter '{valueName}' holds {value.Data[at].ToString(System.Globalization.CultureInfo.InvariantCulture)} (flat index {at}): the fit diverged, and nothing was written; lower the learning rate or regularise the fit");
        Claim(valueName);
        var tensor = new TensorProto { Name = valueName, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (var d in value.Shape) tensor.Dims.Add(d);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(value.Data.AsSpan()));
        _graph.Initializer.Add(tensor);
        return valueName;
    }

    /// <summary>A float32 scalar constant.</summary>
    public string Scalar(string valueName, float value) => Constant(valueName, new NdArray([], [value]));

    /// <summary>A 1-D int64 constant.</summary>
    public string Int64Vector(string valueName, params long[] values)
    {
        Claim(valueName);
        var tensor = new TensorProto { Name = valueName, DataType = (int)TensorProto.Types.DataType.Int64, Dims = { values.Length } };
        tensor.Int64Data.Add(values);
        _graph.Initializer.Add(tensor);
        return valueName;
    }

    /// <summary>An int64 scalar constant.</summary>
    public string Int64Scalar(string valueName, long value)
    {
        Claim(valueName);
        var tensor = new TensorProto { Name = valueName, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Int64Data.Add(value);
        _graph.Initializer.Add(tensor);
        return valueName;
    }

    /// <summary>A boolean scalar constant.</summary>
    public string Bool(string valueName, bool value)
    {
        Claim(valueName);
        _graph.Initializer.Add(new TensorProto { Name = valueName, DataType = (int)TensorProto.Types.DataType.Bool, Int32Data = { value ? 1 : 0 } });
        return valueName;
    }

    /// <summary>Adds a node with one output and returns the output's name (generated unless given).</summary>
    public string Node(string opType, string[] inputs, string? output = null, params AttributeProto[] attributes) =>
        Nodes(opType, inputs, [output ?? Fresh(opType)], attributes)[0];

    /// <summary>Adds a node with the named outputs.</summary>
    public string[] Nodes(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        foreach (var o in outputs) Claim(o);
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{_counter++}" };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        _graph.Node.Add(node);
        return outputs;
    }

    public GraphProto Build() => _graph;

    public static AttributeProto IntAttribute(string attributeName, long value) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto IntsAttribute(string attributeName, params long[] values)
    {
        var a = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    public static AttributeProto GraphAttribute(string attributeName, GraphProto graph) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Graph, G = graph };

    string Fresh(string opType) => $"{_graph.Name}/{opType.ToLowerInvariant()}_{_counter}";

    void Claim(string valueName)
    {
        if (!_names.Add(valueName)) throw new InvalidOperationException($"value '{valueName}' is defined twice in graph '{_graph.Name}'");
    }

    static ValueInfoProto ValueInfo(string valueName, TensorProto.Types.DataType type, string[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
        {
            tensorShape.Dim.Add(long.TryParse(d, out var size)
                ? new TensorShapeProto.Types.Dimension { DimValue = size }
                : new TensorShapeProto.Types.Dimension { DimParam = d });
        }
        return new ValueInfoProto
        {
            Name = valueName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = tensorShape } },
        };
    }
}
