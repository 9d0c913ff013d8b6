using System.Text.Json.Serialization;

namespace Pipeline.Shared.Manifest;

/// <summary>
/// The contract between the two sides: what a model folder holds, which graph does what, the tensors each
/// graph takes and gives, and how the model was trained. Written as <c>manifest.json</c> beside the graphs and
/// also copied (without <see cref="Files"/>) into each graph's ONNX <c>metadata_props</c>, so that a graph file
/// alone is self-describing and a mismatched pair is detected.
/// </summary>
public sealed record ModelManifest
{
    public const string CurrentFormat = "pipeline-model";
    public const int CurrentFormatVersion = 1;
    /// <summary>The ONNX <c>metadata_props</c> key that holds the embedded copy.</summary>
    public const string MetadataKey = "pipeline.manifest";

    public string Format { get; init; } = CurrentFormat;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    /// <summary>The model family, e.g. <c>nmf</c>.</summary>
    public required string Kind { get; init; }
    public required string Name { get; init; }
    /// <summary>SHA-256 of the model's learned parameters: tells two models of identical settings apart.</summary>
    public string? ParametersSha256 { get; init; }
    /// <summary>The tool and version that wrote the folder.</summary>
    public required string Producer { get; init; }
    public required IReadOnlyList<GraphSpec> Graphs { get; init; }
    public DecompositionInfo? Decomposition { get; init; }
    public TrainingSummary? Training { get; init; }
    /// <summary>For a separation model: which template columns belong to which source.</summary>
    public IReadOnlyList<SourceSpec>? Sources { get; init; }
    /// <summary>How an anomaly scorer turns the graph's per-frame errors into a file score and a decision.</summary>
    public AnomalyScoring? Anomaly { get; init; }
    /// <summary>The audio front end whose features the model consumes; Inference recomputes them from it.</summary>
    public Audio.FrontEndConfig? FrontEnd { get; init; }
    /// <summary>
    /// For a machine-ID classifier or clip statistics of two or more IDs: the IDs ("id_00", ...) in the order of its outputs. The scorer's <c>machine_id</c>
    /// input is an index into this list; the list's length stands for an ID not seen in training.
    /// </summary>
    public IReadOnlyList<string>? MachineIds { get; init; }
    /// <summary>SHA-256 (lower-case hex) of every file in the folder but the manifest; absent in the embedded copy.</summary>
    public IReadOnlyDictionary<string, string>? Files { get; init; }

    /// <summary>The graph that plays <paramref name="role"/>, or null.</summary>
    public GraphSpec? FindGraph(string role) => Graphs.FirstOrDefault(g => g.Role == role);
}

/// <summary>One ONNX graph of a model folder.</summary>
/// <param name="Role">What it computes: <c>activations</c>, <c>reconstruction</c>, ...</param>
/// <param name="File">Its file name inside the folder.</param>
public sealed record GraphSpec(string Role, string File, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>A graph input or output.</summary>
/// <param name="Shape">One entry per dimension: digits for a fixed size, a name for a free one (<c>frames</c>).</param>
/// <param name="Default">For an optional input, its default value as text.</param>
public sealed record TensorSpec(string Name, string ElementType, IReadOnlyList<string> Shape, string Meaning, string? Default = null)
{
    /// <summary>The fixed size of dimension <paramref name="axis"/>, or null when it is free.</summary>
    public long? FixedDim(int axis) => long.TryParse(Shape[axis], out var d) ? d : null;
}

/// <summary>Hyper-parameters of a decomposition model that inference must reproduce.</summary>
/// <param name="Features">Rows of V and W (frequency bins).</param>
/// <param name="Rank">Columns of W, rows of H.</param>
/// <param name="Beta">β of the divergence the multiplicative updates minimise.</param>
/// <param name="Epsilon">Floor applied to W·H and to update denominators.</param>
/// <param name="DefaultIterations">Multiplicative updates run by the activation graph when no count is given.</param>
public sealed record DecompositionInfo(int Features, int Rank, double Beta, double Epsilon, int DefaultIterations, string Layout);

/// <summary>A source of a separation model: its name and its block of template columns (components).</summary>
public sealed record SourceSpec(string Name, int FirstComponent, int Components);

/// <summary>
/// The anomaly-scoring contract: per-file score = <see cref="Aggregation"/> ("max", "mean" or "top-p%") of the per-frame
/// errors after dropping <see cref="TrimFrames"/> at each end, or, for <c>"clip"</c>, the graph's own <c>clip_error</c>
/// over the clip's frames less that trim; anomalous when the score exceeds <see cref="Threshold"/>.
/// </summary>
/// <param name="ThresholdRule">How the threshold was chosen, in words (e.g. "FPR 0.1 on 9 validation normals").</param>
public sealed record AnomalyScoring(string Aggregation, int TrimFrames, double Threshold, string ThresholdRule);

/// <summary>How the model was fitted; informative, never read back into the computation.</summary>
/// <param name="MachineIds">Anomaly detectors: the machine IDs of the training clips (<c>id_NN</c>), so that a scorer can say when a file's ID was not among them; null when the names carried none.</param>
public sealed record TrainingSummary(
    int Seed, int Iterations, int MaxIterations, double Tolerance, bool Converged, double FinalLoss,
    IReadOnlyList<int> InputShape, string? Input, IReadOnlyList<string>? MachineIds = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
