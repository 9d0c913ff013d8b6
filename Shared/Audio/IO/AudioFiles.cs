using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Finds audio files.</summary>
public static class AudioFiles
{
    /// <summary>File name endings treated as audio.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".wav", ".mp3", ".ogg", ".aif", ".aiff", ".flac"]; // FLAC is found, then refused with a converter

    /// <summary>
    /// A file; every audio file under a directory (recursively); or a glob in the last path segment
    /// (<c>data/train/normal_*.wav</c>). Sorted by ordinal path, so the order never depends on the file system.
    /// </summary>
    public static IReadOnlyList<string> Find(string fileDirectoryOrGlob)
    {
        if (File.Exists(fileDirectoryOrGlob)) return [fileDirectoryOrGlob];
        IEnumerable<string> found;
        if (Directory.Exists(fileDirectoryOrGlob))
            found = Directory.EnumerateFiles(fileDirectoryOrGlob, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()));
        else
        {
            var directory = Path.GetDirectoryName(fileDirectoryOrGlob);
            var pattern = Path.GetFileName(fileDirectoryOrGlob);
            if (string.IsNullOrEmpty(directory)) directory = ".";
            if (directory.IndexOfAny(['*', '?', '[']) >= 0)
                throw new InvalidFileException(fileDirectoryOrGlob, "wildcards are expanded in the file name only ('data/train/*.wav'), not in folder names; name the folder, which is searched recursively");
            if (!pattern.Contains('*') && !pattern.Contains('?') || !Directory.Exists(directory))
                throw new InvalidFileException(fileDirectoryOrGlob, "no such file or directory");
            found = Directory.EnumerateFiles(directory, pattern);
        }
        var files = found.Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidFileException(fileDirectoryOrGlob, $"contains no audio files ({string.Join(", ", Extensions)})");
        return files;
    }

    /// <summary>
    /// <see cref="Find(string)"/> for each of several inputs, in the order given, each file once. Every input that
    /// names nothing is reported together.
    /// </summary>
    public static IReadOnlyList<string> Find(IReadOnlyList<string> inputs)
    {
        if (inputs.Count == 0) throw new InvalidOptionException("no input files were given");
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<PipelineException>();
        foreach (var input in inputs)
        {
            try { files.AddRange(Find(input).Where(f => seen.Add(Path.GetFullPath(f)))); }
            catch (InvalidFileException e) { problems.Add(e); }
        }
        if (problems.Count == 1) throw problems[0];
        if (problems.Count > 1) throw new BadInputFilesException(problems, $"{problems.Count} of {inputs.Count} inputs name no audio files");
        return files;
    }
}
