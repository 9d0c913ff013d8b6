using System.Security.Cryptography;
using System.Text.Json;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;

namespace Pipeline.Shared.Manifest;

/// <summary>
/// A model on disk: <c>manifest.json</c> plus the files it lists with their SHA-256. Writing is all-or-nothing;
/// reading checks the format, the version, every listed file's presence and hash.
/// </summary>
public static class ModelFolder
{
    public const string ManifestFileName = "manifest.json";

    /// <summary>A model folder as an output: recognised by a manifest of this format, so retraining replaces it.</summary>
    public static OutputFolderKind Kind { get; } = new("model folder", ManifestFileName, directory =>
    {
        try { return File.ReadAllText(Path.Combine(directory, ManifestFileName)).Contains($"\"{ModelManifest.CurrentFormat}\"", StringComparison.Ordinal); }
        catch (Exception e) when (IoErrors.IsIo(e)) { return false; }
    });

    /// <summary>The manifest as JSON text.</summary>
    public static string ToJson(ModelManifest manifest) =>
        JsonSerializer.Serialize(manifest, ManifestJsonContext.Default.ModelManifest);

    /// <summary>Parses manifest JSON; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="ModelContractException">The text is not a manifest of a supported format version.</exception>
    public static ModelManifest FromJson(string json, string source)
    {
        ModelManifest? manifest;
        try { manifest = JsonSerializer.Deserialize(json, ManifestJsonContext.Default.ModelManifest); }
        catch (JsonException e) { throw new ModelContractException($"{source}: not a valid model manifest ({e.Message})", e); }
        if (manifest is null) throw new ModelContractException($"{source}: empty model manifest");
        if (manifest.Format != ModelManifest.CurrentFormat)
            throw new ModelContractException($"{source}: format is '{manifest.Format}', expected '{ModelManifest.CurrentFormat}'");
        if (manifest.FormatVersion != ModelManifest.CurrentFormatVersion)
            throw new ModelContractException($"{source}: manifest format version {manifest.FormatVersion} is not supported (this build reads version {ModelManifest.CurrentFormatVersion})");
        if (manifest.Graphs is null || manifest.Graphs.Count == 0)
            throw new ModelContractException($"{source}: the manifest lists no graphs");
        ManifestValidation.Validate(manifest, source);
        return manifest;
    }

    /// <summary>The copy embedded in graph metadata: everything but the file hashes.</summary>
    public static string EmbeddedJson(ModelManifest manifest) => ToJson(manifest with { Files = null });

    /// <summary>
    /// Writes <paramref name="files"/> and the manifest (with their hashes added) into <paramref name="directory"/>,
    /// replacing any previous model there only once the new one is complete.
    /// </summary>
    /// <exception cref="InvalidInputException">The manifest holds values no consumer could use (a non-finite threshold, say): nothing is written.</exception>
    public static ModelManifest Write(string directory, ModelManifest manifest, IReadOnlyDictionary<string, byte[]> files)
    {
        try { ManifestValidation.Validate(manifest, $"model '{manifest.Name}'"); }
        catch (ModelContractException e) { throw new InvalidInputException($"{e.Message}; nothing was written"); }
        var hashes = files.OrderBy(f => f.Key, StringComparer.Ordinal)
            .ToDictionary(f => f.Key, f => Convert.ToHexStringLower(SHA256.HashData(f.Value)));
        var complete = manifest with { Files = hashes };
        AtomicFile.WriteDirectory(directory, temp =>
        {
            foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(temp, name), bytes);
            File.WriteAllText(Path.Combine(temp, ManifestFileName), ToJson(complete));
        });
        return complete;
    }

    /// <summary>Reads and verifies a model folder's manifest.</summary>
    /// <exception cref="ModelContractException">The folder, the manifest or a listed file is missing, or a hash differs.</exception>
    public static ModelManifest Read(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new ModelContractException("the model folder's path is empty");
        if (!Directory.Exists(directory))
            throw new ModelContractException(File.Exists(directory) ? $"{directory}: is a file, not a model folder" : $"{directory}: model folder not found");
        var manifestPath = Path.Combine(directory, ManifestFileName);
        string json;
        try
        {
            // read rather than ask File.Exists, which is false in a folder that cannot be listed: say why it failed
            json = File.ReadAllText(manifestPath);
        }
        catch (FileNotFoundException e)
        {
            throw new ModelContractException($"{directory}: no {ManifestFileName} in the model folder", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelContractException($"cannot read {manifestPath}: {Reason(e, manifestPath)}", e);
        }
        var manifest = FromJson(json, manifestPath);
        if (manifest.Files is null)
            throw new ModelContractException($"{manifestPath}: the manifest lists no file hashes");
        foreach (var graph in manifest.Graphs)
        {
            if (!manifest.Files.ContainsKey(graph.File))
                throw new ModelContractException($"{manifestPath}: graph '{graph.Role}' file {graph.File} has no hash in the manifest");
        }
        foreach (var (name, expected) in manifest.Files)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path) && !Directory.Exists(path)) // a folder in its place: "cannot read" below
                throw new ModelContractException($"{directory}: {name} is listed in the manifest but missing");
            string actual;
            try
            {
                using var stream = File.OpenRead(path);
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ModelContractException($"cannot read {path}: {Reason(e, path)}", e);
            }
            if (actual != expected)
                throw new ModelContractException($"{path}: contents do not match the manifest (SHA-256 {actual[..12]}…, expected {expected[..Math.Min(12, expected.Length)]}…); the file was changed or belongs to another model");
        }
        return manifest;
    }

    static string Reason(Exception e, string path) =>
        Directory.Exists(path) ? "it is a folder, not a file" : IoErrors.Reason(e, writing: false);
}
