using System.Runtime.InteropServices;
using System.Text;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Runtime;

/// <summary>ONNX tensor element types (the values of <c>ONNXTensorElementDataType</c>).</summary>
public enum TensorElementType { Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9, Float16 = 10, Double = 11 }

/// <summary>A graph input or output as the session sees it.</summary>
/// <param name="Shape">One entry per dimension; −1 where the size is free.</param>
/// <param name="SymbolicDims">The name of each free dimension (empty for fixed ones).</param>
public sealed record NodeInfo(string Name, TensorElementType ElementType, IReadOnlyList<long> Shape, IReadOnlyList<string> SymbolicDims)
{
    public string ShapeText => "(" + string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDims[i] is { Length: > 0 } s ? s : "?")) + ")";
}

/// <summary>A value fed to <see cref="InferenceSession.Run"/>: a float32 array, or int64 values with a shape.</summary>
public sealed class OrtInput
{
    OrtInput(Array data, long[] shape, TensorElementType type) { Data = data; Shape = shape; ElementType = type; }

    internal Array Data { get; }
    internal long[] Shape { get; }
    public TensorElementType ElementType { get; }

    /// <summary>Feeds the array's buffer to ONNX Runtime without copying it.</summary>
    public static OrtInput Float(NdArray array) => new(array.Data, array.Shape.Select(d => (long)d).ToArray(), TensorElementType.Float);
    public static OrtInput Int64(long[] values, params long[] shape) => new(values, shape, TensorElementType.Int64);
    public static OrtInput Int64Scalar(long value) => new(new[] { value }, [], TensorElementType.Int64);
}

/// <summary>
/// A loaded ONNX model. <see cref="Run"/> may be called from several threads at once (ONNX Runtime sessions are
/// thread-safe for inference); inputs are pinned and handed to ONNX Runtime in place, outputs are copied out.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    static readonly Lazy<OrtHandle> CpuMemory = new(() =>
    {
        IntPtr info;
        OrtApi.Check(((delegate* unmanaged<int, int, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateCpuMemoryInfo))(0, 0, &info));
        return new OrtHandle(info, OrtApi.ReleaseMemoryInfo);
    });

    readonly OrtHandle _session;

    InferenceSession(OrtHandle session, ExecutionProvider provider)
    {
        _session = session;
        Provider = provider;
        Inputs = ReadNodes(OrtApi.SessionGetInputCount, OrtApi.SessionGetInputName, OrtApi.SessionGetInputTypeInfo);
        Outputs = ReadNodes(OrtApi.SessionGetOutputCount, OrtApi.SessionGetOutputName, OrtApi.SessionGetOutputTypeInfo);
        OverridableInitializers = ReadNodes(OrtApi.SessionGetOverridableInitializerCount,
            OrtApi.SessionGetOverridableInitializerName, OrtApi.SessionGetOverridableInitializerTypeInfo);
        CustomMetadata = ReadMetadata();
    }

    /// <summary>Loads a model file.</summary>
    /// <exception cref="InvalidFileException">The file does not exist.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejects the model or the options.</exception>
    public static InferenceSession FromFile(string path, SessionOptions? options = null)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "model file not found");
        options ??= new SessionOptions();
        using var opts = options.Create();
        var env = OrtEnvironment.Handle;
        IntPtr session;
        var utf8 = Encoding.UTF8.GetBytes(Path.GetFullPath(path) + "\0");
        fixed (byte* p = utf8)
            OrtApi.Check(((delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateSession))(
                env.DangerousGetHandle(), p, opts.DangerousGetHandle(), &session));
        return new InferenceSession(new OrtHandle(session, OrtApi.ReleaseSession), options.Provider);
    }

    /// <summary>Loads a model from its serialised bytes.</summary>
    public static InferenceSession FromBytes(ReadOnlySpan<byte> model, SessionOptions? options = null)
    {
        options ??= new SessionOptions();
        using var opts = options.Create();
        var env = OrtEnvironment.Handle;
        IntPtr session;
        fixed (byte* p = model)
            OrtApi.Check(((delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateSessionFromArray))(
                env.DangerousGetHandle(), p, (nuint)model.Length, opts.DangerousGetHandle(), &session));
        return new InferenceSession(new OrtHandle(session, OrtApi.ReleaseSession), options.Provider);
    }

    /// <summary>Inputs the caller must feed.</summary>
    public IReadOnlyList<NodeInfo> Inputs { get; }
    public IReadOnlyList<NodeInfo> Outputs { get; }
    /// <summary>Inputs that have a default value in the model (initializers that may be fed).</summary>
    public IReadOnlyList<NodeInfo> OverridableInitializers { get; }
    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> CustomMetadata { get; }
    /// <summary>The execution provider the session was created for.</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>Runs the model and returns the requested float outputs (all outputs when none are named).</summary>
    /// <exception cref="InvalidInputException">An input is missing, unknown, or of the wrong type or shape.</exception>
    public IReadOnlyDictionary<string, NdArray> Run(IReadOnlyDictionary<string, OrtInput> inputs, IReadOnlyList<string>? outputNames = null)
    {
        ObjectDisposedException.ThrowIf(_session.IsClosed, this);
        ValidateInputs(inputs);
        outputNames ??= Outputs.Select(o => o.Name).ToList();
        foreach (var name in outputNames)
            if (Outputs.All(o => o.Name != name)) throw new InvalidInputException($"the model has no output '{name}'");

        var count = inputs.Count;
        var pins = new GCHandle[count];
        var values = new IntPtr[count];
        var outputs = new IntPtr[outputNames.Count];
        var names = new List<IntPtr>();
        var added = false;
        try
        {
            _session.DangerousAddRef(ref added);
            var inputNames = new IntPtr[count];
            var i = 0;
            foreach (var (name, input) in inputs)
            {
                pins[i] = GCHandle.Alloc(input.Data, GCHandleType.Pinned);
                var bytes = (nuint)(input.Data.Length * (input.ElementType == TensorElementType.Float ? 4 : 8));
                IntPtr value;
                fixed (long* shape = input.Shape)
                    OrtApi.Check(((delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateTensorWithDataAsOrtValue))(
                        CpuMemory.Value.DangerousGetHandle(), (void*)pins[i].AddrOfPinnedObject(), bytes, shape, (nuint)input.Shape.Length, (int)input.ElementType, &value));
                values[i] = value;
                inputNames[i] = Utf8(name, names);
                i++;
            }
            var outputNamePointers = outputNames.Select(n => Utf8(n, names)).ToArray();
            fixed (IntPtr* pInputNames = inputNames)
            fixed (IntPtr* pInputs = values)
            fixed (IntPtr* pOutputNames = outputNamePointers)
            fixed (IntPtr* pOutputs = outputs)
                OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.Run))(
                    _session.DangerousGetHandle(), IntPtr.Zero, pInputNames, pInputs, (nuint)count, pOutputNames, (nuint)outputs.Length, pOutputs));
            var result = new Dictionary<string, NdArray>();
            for (var o = 0; o < outputs.Length; o++) result[outputNames[o]] = CopyOut(outputs[o], outputNames[o]);
            return result;
        }
        finally
        {
            foreach (var v in values) OrtApi.Release(OrtApi.ReleaseValue, v);
            foreach (var v in outputs) OrtApi.Release(OrtApi.ReleaseValue, v);
            foreach (var p in pins) if (p.IsAllocated) p.Free();
            foreach (var n in names) Marshal.FreeCoTaskMem(n);
            if (added) _session.DangerousRelease();
        }
    }

    public void Dispose() => _session.Dispose();

    void ValidateInputs(IReadOnlyDictionary<string, OrtInput> inputs)
    {
        foreach (var required in Inputs)
            if (!inputs.ContainsKey(required.Name)) throw new InvalidInputException($"input '{required.Name}' {required.ShapeText} is missing");
        foreach (var (name, input) in inputs)
        {
            var node = Inputs.FirstOrDefault(n => n.Name == name) ?? OverridableInitializers.FirstOrDefault(n => n.Name == name)
                ?? throw new InvalidInputException($"the model has no input '{name}'; it takes {string.Join(", ", Inputs.Select(n => n.Name))}");
            if (node.ElementType != input.ElementType)
                throw new InvalidInputException($"input '{name}' must be {node.ElementType}, got {input.ElementType}");
            var matches = node.Shape.Count == input.Shape.Length &&
                node.Shape.Select((d, i) => d < 0 || d == input.Shape[i]).All(x => x);
            if (!matches)
                throw new InvalidInputException($"input '{name}' has shape ({string.Join(", ", input.Shape)}) but the model expects {node.ShapeText}");
        }
    }

    static IntPtr Utf8(string text, List<IntPtr> owned)
    {
        var p = Marshal.StringToCoTaskMemUTF8(text);
        owned.Add(p);
        return p;
    }

    static NdArray CopyOut(IntPtr value, string name)
    {
        IntPtr info;
        OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.GetTensorTypeAndShape))(value, &info));
        try
        {
            var (type, shape, _) = ReadTensorInfo(info);
            if (type != TensorElementType.Float)
                throw new ModelContractException($"output '{name}' is {type}; only float outputs are supported");
            void* data;
            OrtApi.Check(((delegate* unmanaged<IntPtr, void**, IntPtr>)OrtApi.Fn(OrtApi.GetTensorMutableData))(value, &data));
            var dims = shape.Select(d => checked((int)d)).ToArray();
            long length = 1;
            foreach (var d in dims) length *= d;
            var copy = new float[length];
            new ReadOnlySpan<float>(data, (int)length).CopyTo(copy);
            return new NdArray(dims, copy);
        }
        finally
        {
            OrtApi.Release(OrtApi.ReleaseTensorTypeAndShapeInfo, info);
        }
    }

    static (TensorElementType Type, long[] Shape, string[] Symbolic) ReadTensorInfo(IntPtr info)
    {
        int type;
        nuint rank;
        OrtApi.Check(((delegate* unmanaged<IntPtr, int*, IntPtr>)OrtApi.Fn(OrtApi.GetTensorElementType))(info, &type));
        OrtApi.Check(((delegate* unmanaged<IntPtr, nuint*, IntPtr>)OrtApi.Fn(OrtApi.GetDimensionsCount))(info, &rank));
        var shape = new long[rank];
        var symbolic = new IntPtr[rank];
        fixed (long* pShape = shape)
        fixed (IntPtr* pSymbolic = symbolic)
        {
            OrtApi.Check(((delegate* unmanaged<IntPtr, long*, nuint, IntPtr>)OrtApi.Fn(OrtApi.GetDimensions))(info, pShape, rank));
            OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr*, nuint, IntPtr>)OrtApi.Fn(OrtApi.GetSymbolicDimensions))(info, pSymbolic, rank));
        }
        return ((TensorElementType)type, shape, symbolic.Select(p => Marshal.PtrToStringUTF8(p) ?? "").ToArray());
    }

    List<NodeInfo> ReadNodes(int countSlot, int nameSlot, int typeSlot)
    {
        var session = _session.DangerousGetHandle();
        var allocator = OrtApi.DefaultAllocator;
        nuint count;
        OrtApi.Check(((delegate* unmanaged<IntPtr, nuint*, IntPtr>)OrtApi.Fn(countSlot))(session, &count));
        var nodes = new List<NodeInfo>((int)count);
        for (nuint i = 0; i < count; i++)
        {
            IntPtr namePtr, typeInfo, tensorInfo;
            OrtApi.Check(((delegate* unmanaged<IntPtr, nuint, IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(nameSlot))(session, i, allocator, &namePtr));
            var name = OrtApi.TakeString(allocator, namePtr);
            OrtApi.Check(((delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr>)OrtApi.Fn(typeSlot))(session, i, &typeInfo));
            try
            {
                OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CastTypeInfoToTensorInfo))(typeInfo, &tensorInfo));
                if (tensorInfo == IntPtr.Zero)
                {
                    nodes.Add(new NodeInfo(name, TensorElementType.Undefined, [], []));
                    continue;
                }
                var (type, shape, symbolic) = ReadTensorInfo(tensorInfo);
                nodes.Add(new NodeInfo(name, type, shape, symbolic));
            }
            finally
            {
                OrtApi.Release(OrtApi.ReleaseTypeInfo, typeInfo);
            }
        }
        return nodes;
    }

    Dictionary<string, string> ReadMetadata()
    {
        var allocator = OrtApi.DefaultAllocator;
        IntPtr metadata;
        OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.SessionGetModelMetadata))(_session.DangerousGetHandle(), &metadata));
        try
        {
            IntPtr* keys;
            long count;
            OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr, IntPtr**, long*, IntPtr>)OrtApi.Fn(OrtApi.ModelMetadataGetCustomMetadataMapKeys))(metadata, allocator, &keys, &count));
            var result = new Dictionary<string, string>();
            if (keys == null) return result;
            var keyNames = new string[count];
            for (var i = 0; i < count; i++) keyNames[i] = OrtApi.TakeString(allocator, keys[i]);
            OrtApi.Free(allocator, (IntPtr)keys);
            foreach (var key in keyNames)
            {
                IntPtr value;
                var utf8 = Encoding.UTF8.GetBytes(key + "\0");
                fixed (byte* k = utf8)
                    OrtApi.Check(((delegate* unmanaged<IntPtr, IntPtr, byte*, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.ModelMetadataLookupCustomMetadataMap))(metadata, allocator, k, &value));
                if (value != IntPtr.Zero) result[key] = OrtApi.TakeString(allocator, value);
            }
            return result;
        }
        finally
        {
            OrtApi.Release(OrtApi.ReleaseModelMetadata, metadata);
        }
    }
}
