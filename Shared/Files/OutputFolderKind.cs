namespace Pipeline.Shared.Files;

/// <summary>
/// What a command writes as a folder (a model, a features folder, separated sources, a data set), recognised by a
/// file it always contains, so that a later run replaces its own earlier output and nothing else.
/// </summary>
/// <param name="Name">How messages call it: "model folder", "features folder".</param>
/// <param name="Marker">The file every such folder holds at its top.</param>
/// <param name="Recognise">Optional stricter test of the folder (the marker's contents), given the folder's path.</param>
public sealed record OutputFolderKind(string Name, string Marker, Func<string, bool>? Recognise = null)
{
    /// <summary>True when <paramref name="directory"/> is an earlier output of this kind.</summary>
    public bool Matches(string directory) =>
        File.Exists(Path.Combine(directory, Marker)) && (Recognise is null || Recognise(directory));

    /// <summary>A features folder of <c>pipeline-train features</c>: one .npy per file and <c>frontend.json</c>.</summary>
    public static OutputFolderKind Features { get; } = new("features folder", "frontend.json");

    /// <summary>Separated sources of <c>pipeline-infer separate</c>: one WAV per source and <c>separation.json</c>.</summary>
    public static OutputFolderKind Sources { get; } = new("separated-sources folder", "separation.json");

    /// <summary>A synthetic data set of <c>pipeline-train synth</c>.</summary>
    public static OutputFolderKind DataSet { get; } = new("synthetic data set", "dataset.json");
}
