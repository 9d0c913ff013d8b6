using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Inference.Models;

/// <summary>
/// An exported model folder, opened for inference: the verified manifest and one ONNX Runtime session per graph,
/// created on first use. Opening checks that every file is present and unchanged; a session is accepted only if
/// the manifest embedded in its graph matches <c>manifest.json</c> and it has the inputs and outputs listed there.
/// </summary>
public sealed class ModelPackage : IDisposable
{
    readonly RuntimeOptions _options;
    readonly Dictionary<string, ModelSession> _sessions = [];
    readonly object _gate = new();

    ModelPackage(string directory, ModelManifest manifest, RuntimeOptions options)
    {
        Directory = directory;
        Manifest = manifest;
        _options = options;
    }

    /// <summary>Opens and verifies a model folder.</summary>
    /// <param name="expectedKind">When given, the manifest's kind must equal it (e.g. <c>nmf</c>).</param>
    /// <exception cref="ModelContractException">The folder is incomplete, altered, or of another kind.</exception>
    public static ModelPackage Open(string directory, RuntimeOptions? options = null, string? expectedKind = null)
    {
        var manifest = ModelFolder.Read(directory);
        if (expectedKind is not null && manifest.Kind != expectedKind)
            throw new ModelContractException($"{directory}: is a '{manifest.Kind}' model, expected '{expectedKind}'");
        return new ModelPackage(directory, manifest, options ?? new RuntimeOptions());
    }

    public string Directory { get; }
    public ModelManifest Manifest { get; }

    /// <summary>The graph that plays <paramref name="role"/>, or an error naming the roles the model has.</summary>
    public GraphSpec Graph(string role) => Manifest.FindGraph(role)
        ?? throw new ModelContractException($"{Directory}: the model has no '{role}' graph (it has {string.Join(", ", Manifest.Graphs.Select(g => g.Role))})");

    /// <summary>The session of the graph that plays <paramref name="role"/>.</summary>
    public ModelSession Session(string role)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(role, out var existing)) return existing;
            var spec = Graph(role);
            var path = Path.Combine(Directory, spec.File);
            var session = ModelSession.FromFile(path, _options);
            try { Verify(session, spec, path); }
            catch { session.Dispose(); throw; }
            _sessions[role] = session;
            return session;
        }
    }

    void Verify(ModelSession session, GraphSpec spec, string path)
    {
        if (!session.CustomMetadata.TryGetValue(ModelManifest.MetadataKey, out var embedded))
            throw new ModelContractException($"{path}: the graph carries no manifest; it was not exported by Pipeline");
        if (embedded != ModelFolder.EmbeddedJson(Manifest))
            throw new ModelContractException($"{path}: the manifest inside the graph differs from {ModelFolder.ManifestFileName}: the manifest was edited after export (a threshold, say), or the folder mixes files of different models; a model folder is used as it was exported");
        var inputs = session.InputMetadata.Concat(session.OverridableInitializerMetadata).ToDictionary();
        foreach (var input in spec.Inputs) Agree(input, inputs, "input", path);
        foreach (var output in spec.Outputs) Agree(output, session.OutputMetadata, "output", path);
    }

    /// <summary>The manifest's tensor and the graph's: same name, element type, rank, and fixed sizes where the manifest fixes them.</summary>
    static void Agree(TensorSpec spec, IReadOnlyDictionary<string, NodeMetadata> graph, string what, string path)
    {
        if (!graph.TryGetValue(spec.Name, out var node))
            throw new ModelContractException($"{path}: the graph has no {what} '{spec.Name}' listed in the manifest");
        var type = node.ElementDataType switch { TensorElementType.Float => "float32", TensorElementType.Int64 => "int64", var t => t.ToString() };
        var dims = node.Dimensions;
        var same = type == spec.ElementType && dims.Length == spec.Shape.Count &&
            Enumerable.Range(0, dims.Length).All(a => spec.FixedDim(a) is not { } d || d == dims[a]);
        if (!same)
            throw new ModelContractException(
                $"{path}: {what} '{spec.Name}' is {type} {ModelSession.ShapeText(node)} in the graph but {spec.ElementType} ({string.Join(", ", spec.Shape)}) in the manifest; the folder mixes files of different models");
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var s in _sessions.Values) s.Dispose();
            _sessions.Clear();
        }
    }
}
