using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// One ONNX graph loaded into ONNX Runtime (<see cref="InferenceSession"/>), on the device the options chose, with
/// the checks every caller needs before a run. <see cref="Run"/> may be called from several threads at once
/// (ONNX Runtime's sessions are thread-safe for inference). Inputs are <see cref="OrtValue"/>s over the callers'
/// pinned arrays; outputs are written by ONNX Runtime straight into new managed arrays when their shapes follow
/// from the inputs' named dimensions (<c>frames</c>, ...), and copied out of ONNX Runtime's memory otherwise.
/// </summary>
public sealed class ModelSession : IDisposable
{
    readonly RunOptions runOptions = new();

    ModelSession(ProviderChoice.Opened opened, string source)
    {
        Session = opened.Session;
        Provider = opened.Provider;
        CudaUnavailable = opened.CudaUnavailable;
        Source = source;
        try
        {
            Metadata = Session.ModelMetadata;
            CustomMetadata = Metadata.CustomMetadataMap;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Loads a model file.</summary>
    /// <exception cref="InvalidFileException">The file does not exist or cannot be read.</exception>
    /// <exception cref="ModelRuntimeException">ONNX Runtime refuses the model (not a model, truncated, an opset or operator it lacks).</exception>
    /// <exception cref="DeviceUnavailableException"><see cref="Device.Cuda"/> was asked for and cannot be used.</exception>
    public static ModelSession FromFile(string path, RuntimeOptions? options = null)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "model file not found");
        try { using (File.OpenRead(path)) { } }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException(path, $"cannot read the model: {e.Message}", e);
        }
        var full = Path.GetFullPath(path);
        return new ModelSession(ProviderChoice.Open(options ?? new(), o => new InferenceSession(full, o), path), path);
    }

    /// <summary>Loads a model from its serialised bytes.</summary>
    public static ModelSession FromBytes(byte[] model, RuntimeOptions? options = null) =>
        new(ProviderChoice.Open(options ?? new(), o => new InferenceSession(model, o), "model bytes"), "model bytes");

    /// <summary>ONNX Runtime's session, for anything this class does not wrap.</summary>
    public InferenceSession Session { get; }

    /// <summary>The file it came from (or "model bytes").</summary>
    public string Source { get; }

    /// <summary>The execution provider the graph runs on: <c>CPUExecutionProvider</c> or <c>CUDAExecutionProvider</c>.</summary>
    public string Provider { get; }

    /// <summary>Why CUDA was not taken, when it was tried (<see cref="Device.Auto"/>) and could not be used; otherwise null.</summary>
    public string? CudaUnavailable { get; }

    /// <summary>Inputs the caller must feed.</summary>
    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata => Session.InputMetadata;

    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata => Session.OutputMetadata;

    /// <summary>Inputs with a default value in the graph (initializers that may be fed, such as an iteration count).</summary>
    public IReadOnlyDictionary<string, NodeMetadata> OverridableInitializerMetadata => Session.OverridableInitializerMetadata;

    /// <summary>The graph's producer, version and <c>metadata_props</c>.</summary>
    public ModelMetadata Metadata { get; }

    /// <summary>The graph's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> CustomMetadata { get; }

    /// <summary>A node's shape as text, free dimensions by name: <c>(24, frames)</c>.</summary>
    public static string ShapeText(NodeMetadata node) =>
        "(" + string.Join(", ", node.Dimensions.Select((d, i) => d >= 0 ? d.ToString() : node.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?")) + ")";

    /// <summary>Runs the graph and returns the named float outputs (all outputs when none are named).</summary>
    /// <exception cref="InvalidInputException">An input is missing, unknown, or of the wrong element type or shape.</exception>
    /// <exception cref="ModelRuntimeException">ONNX Runtime fails the run.</exception>
    public IReadOnlyDictionary<string, NdArray> Run(IReadOnlyDictionary<string, ModelInput> inputs, IReadOnlyList<string>? outputNames = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var bound = ValidateInputs(inputs);
        outputNames ??= [.. Session.OutputNames];
        var shapes = new long[]?[outputNames.Count];
        for (var o = 0; o < outputNames.Count; o++)
        {
            if (!OutputMetadata.TryGetValue(outputNames[o], out var node))
                throw new InvalidInputException($"the model has no output '{outputNames[o]}'; it has {string.Join(", ", Session.OutputNames)}");
            if (node.ElementDataType != TensorElementType.Float)
                throw new ModelContractException($"{Source}: output '{outputNames[o]}' is {node.ElementDataType}; only float outputs are supported");
            shapes[o] = Resolve(node, bound);
        }

        var names = new List<string>(inputs.Count);
        var values = new List<OrtValue>(inputs.Count);
        var results = new List<OrtValue>(outputNames.Count);
        try
        {
            foreach (var (name, input) in inputs)
            {
                names.Add(name);
                values.Add(input.ToOrtValue());
            }
            var result = new Dictionary<string, NdArray>(outputNames.Count);
            if (shapes.All(s => s is not null))
            {
                // Every output's size is known: ONNX Runtime writes into our arrays.
                var arrays = shapes.Select(s => NdArray.Zeros(s!.Select(d => checked((int)d)).ToArray())).ToArray();
                foreach (var (array, shape) in arrays.Zip(shapes)) results.Add(OrtValue.CreateTensorValueFromMemory(array.Data, shape!));
                Invoke(() => { Session.Run(runOptions, names, values, outputNames, results); return 0; });
                for (var o = 0; o < outputNames.Count; o++) result[outputNames[o]] = arrays[o];
                return result;
            }
            using var outputs = Invoke(() => Session.Run(runOptions, names, values, outputNames));
            var i = 0;
            foreach (var value in outputs) result[outputNames[i++]] = CopyOut(value);
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
            foreach (var v in results) v.Dispose();
        }
    }

    T Invoke<T>(Func<T> run)
    {
        try { return run(); }
        catch (OnnxRuntimeException e) { throw ModelRuntimeException.From(e, $"{Source}: ONNX Runtime could not run the graph"); }
    }

    /// <summary>Checks names, element types and fixed sizes; returns the sizes of the named free dimensions.</summary>
    Dictionary<string, long> ValidateInputs(IReadOnlyDictionary<string, ModelInput> inputs)
    {
        foreach (var (name, node) in InputMetadata)
            if (!inputs.ContainsKey(name)) throw new InvalidInputException($"input '{name}' {ShapeText(node)} is missing");
        var bound = new Dictionary<string, long>();
        foreach (var (name, input) in inputs)
        {
            if (!InputMetadata.TryGetValue(name, out var node) && !OverridableInitializerMetadata.TryGetValue(name, out node))
                throw new InvalidInputException($"the model has no input '{name}'; it takes {string.Join(", ", Session.InputNames)}");
            if (node.ElementDataType != input.ElementType)
                throw new InvalidInputException($"input '{name}' must be {node.ElementDataType}, got {input.ElementType}");
            var dims = node.Dimensions;
            var matches = dims.Length == input.Shape.Count && dims.Select((d, i) => d < 0 || d == input.Shape[i]).All(x => x);
            if (!matches)
                throw new InvalidInputException($"input '{name}' has shape ({string.Join(", ", input.Shape)}) but the model expects {ShapeText(node)}");
            for (var i = 0; i < dims.Length; i++)
            {
                if (dims[i] >= 0 || node.SymbolicDimensions[i] is not { Length: > 0 } symbol) continue;
                if (bound.TryGetValue(symbol, out var size) && size != input.Shape[i])
                    throw new InvalidInputException($"input '{name}' has {symbol} = {input.Shape[i]}, another input {size}");
                bound[symbol] = input.Shape[i];
            }
        }
        return bound;
    }

    static long[]? Resolve(NodeMetadata node, Dictionary<string, long> bound)
    {
        var shape = new long[node.Dimensions.Length];
        for (var i = 0; i < shape.Length; i++)
        {
            if (node.Dimensions[i] >= 0) shape[i] = node.Dimensions[i];
            else if (node.SymbolicDimensions[i] is { Length: > 0 } s && bound.TryGetValue(s, out var size)) shape[i] = size;
            else return null;
        }
        return shape;
    }

    static NdArray CopyOut(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var array = NdArray.Zeros(info.Shape.Select(d => checked((int)d)).ToArray());
        value.GetTensorDataAsSpan<float>().CopyTo(array.Data);
        return array;
    }

    bool disposed;

    /// <summary>Releases the native session and run options.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Session.Dispose();
        runOptions.Dispose();
    }
}
