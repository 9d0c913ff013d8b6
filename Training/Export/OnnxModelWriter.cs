using Google.Protobuf;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export.Proto;

namespace Pipeline.Training.Export;

/// <summary>
/// Turns graphs into a model folder: each graph becomes an ONNX file (IR 8, opset 17) carrying the manifest in
/// its <c>metadata_props</c>; the folder is written all at once by <see cref="ModelFolder.Write"/>.
/// </summary>
public static class OnnxModelWriter
{
    public const long IrVersion = 8;
    public const long OpsetVersion = 17;
    public const string Producer = "pipeline-train";

    /// <summary>Serialises one graph as an ONNX model with the manifest embedded.</summary>
    public static byte[] Serialize(GraphProto graph, ModelManifest manifest)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = Producer,
            ProducerVersion = ProducerVersion,
            Domain = "ai.pipeline",
            ModelVersion = ModelManifest.CurrentFormatVersion,
            DocString = $"{manifest.Kind} model '{manifest.Name}'",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ModelManifest.MetadataKey, Value = ModelFolder.EmbeddedJson(manifest) });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "pipeline.kind", Value = manifest.Kind });
        return model.ToByteArray();
    }

    /// <summary>Writes every graph of <paramref name="manifest"/> and the manifest into <paramref name="directory"/>.</summary>
    /// <param name="graphs">One graph per <see cref="GraphSpec.File"/> of the manifest.</param>
    public static ModelManifest WriteFolder(string directory, ModelManifest manifest, IReadOnlyDictionary<string, GraphProto> graphs)
    {
        var files = new Dictionary<string, byte[]>();
        foreach (var spec in manifest.Graphs)
        {
            if (!graphs.TryGetValue(spec.File, out var graph))
                throw new InvalidOperationException($"no graph built for {spec.File}");
            files[spec.File] = Serialize(graph, manifest);
        }
        return ModelFolder.Write(directory, manifest, files);
    }

    /// <summary>The manifest's <c>producer</c>: tool and version, "pipeline-train 0.9.0".</summary>
    public static string ProducerText => $"{Producer} {ProducerVersion}";

    public static string ProducerVersion =>
        typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
