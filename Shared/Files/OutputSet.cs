using System.Text.Json;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Files;

/// <summary>
/// The outputs of one job, all or none: each path is checked when it is declared (before the work starts), each
/// output is built under a temporary name, and <see cref="Commit"/> renames them all into place, putting back what
/// they replaced if any rename fails. Disposing without a commit removes the temporaries.
/// </summary>
/// <remarks>
/// A folder output replaces only a missing or empty folder, or an earlier output of the same
/// <see cref="OutputFolderKind"/> that holds nothing but what that output wrote (listed in its
/// <see cref="ListingFileName"/>), unless <paramref name="force"/>: a user's files are never deleted by a typo or by
/// being put in an output folder. No output may be an input, contain one, or overlap another output.
/// </remarks>
/// <exception cref="OutputWriteException">A path cannot be written (permission, read-only or full file system, a file in the way, an overlap).</exception>
/// <exception cref="OutputExistsException">A folder output names a folder that holds something else.</exception>
public sealed class OutputSet(bool force = false) : IDisposable
{
    /// <summary>Written into every folder output: its kind and every file it holds, so a later run knows what it may replace.</summary>
    public const string ListingFileName = ".pipeline-output.json";

    readonly List<(string Given, string Full, string Temporary)> staged = [];
    readonly Dictionary<string, (string Given, OutputFolderKind? Kind)> declared = new(StringComparer.Ordinal);
    readonly List<(string Given, string Full)> inputs = [];

    /// <summary>An input of the job: no output may be it, or a folder holding it (replacing the folder would delete it).</summary>
    public void DeclareInput(string path)
    {
        if (string.IsNullOrEmpty(path)) return; // the reader reports it
        var full = FullPath(path);
        foreach (var (outputFull, (outputGiven, _)) in declared.Select(d => (d.Key, d.Value)))
            CheckOverlap(outputGiven, outputFull, path, full);
        inputs.Add((path, full));
    }

    /// <summary>Checks that a folder output may be written at <paramref name="path"/>; call before the work starts.</summary>
    public void DeclareFolder(string path, OutputFolderKind kind)
    {
        var full = Prepare(path);
        if (File.Exists(full) && !force)
            throw new OutputWriteException(path, "a file exists where a folder is wanted (choose another path, or pass --force to replace it)");
        var here = Path.GetFullPath(Environment.CurrentDirectory);
        if (IsWithin(here, full))
            throw new OutputWriteException(path, "it is the current folder or holds it; choose a folder below it");
        if (Directory.Exists(full) && !force)
        {
            var contents = Contents(full);
            if (contents.Count > 0)
            {
                var foreign = Foreign(full, kind);
                if (foreign is not null)
                    throw new OutputExistsException($"{path} exists and {foreign}; choose another path, or pass --force to replace it");
            }
        }
        CheckWritable(path, full);
        declared[full] = (path, kind);
    }

    /// <summary>
    /// Checks that a folder written into as the work goes (a feature cache) can be: a folder, writable, outside every
    /// output. It is not part of the all-or-nothing set.
    /// </summary>
    public void DeclareWorkFolder(string path)
    {
        var full = Prepare(path);
        if (File.Exists(full)) throw new OutputWriteException(path, "a file exists where a folder is wanted");
        CheckWritable(path, full);
    }

    /// <summary>Checks that a file output may be written at <paramref name="path"/>; call before the work starts.</summary>
    public void DeclareFile(string path)
    {
        var full = Prepare(path);
        if (Directory.Exists(full)) throw new OutputWriteException(path, "it is a folder, not a file");
        CheckWritable(path, full);
        declared[full] = (path, null);
    }

    /// <summary>Builds a file under a temporary name; it appears at <paramref name="path"/> on <see cref="Commit"/>.</summary>
    public void WriteFile(string path, Action<Stream> write)
    {
        var full = FullPath(path);
        if (!declared.ContainsKey(full)) DeclareFile(path);
        Stage(path, full, temporary =>
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(stream);
            stream.Flush(flushToDisk: true);
        });
    }

    /// <summary>Builds a folder (filled by <paramref name="fill"/>, given its temporary path); it appears on <see cref="Commit"/>.</summary>
    public void WriteFolder(string path, Action<string> fill)
    {
        var full = FullPath(path);
        if (!declared.TryGetValue(full, out var entry)) CheckWritable(path, full); // AtomicFile's callers replace what is there
        Stage(path, full, temporary =>
        {
            Directory.CreateDirectory(temporary);
            fill(temporary);
            if (entry.Kind is { } kind) WriteListing(temporary, kind);
        });
    }

    /// <summary>
    /// Renames every staged output into place, in the order written; on failure, restores what was replaced. A Ctrl-C
    /// that arrived during the work cancels here, before anything is replaced.
    /// </summary>
    public void Commit()
    {
        Cli.CommandLineHost.Cancellation.ThrowIfCancellationRequested();
        var done = new List<(string Full, string? Old)>();
        var current = "";
        try
        {
            foreach (var (given, full, temporary) in staged)
            {
                current = given;
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                string? old = null;
                if (File.Exists(full) || Directory.Exists(full))
                {
                    old = AtomicFile.Sibling(full, "old");
                    Move(full, old);
                }
                try { Move(temporary, full); }
                catch when (old is not null) { Move(old, full); throw; }
                done.Add((full, old));
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            for (var i = done.Count - 1; i >= 0; i--)
            {
                var (full, old) = done[i];
                AtomicFile.TryDelete(full);
                if (old is not null) { try { Move(old, full); } catch (Exception r) when (IoErrors.IsIo(r)) { } }
            }
            throw new OutputWriteException(current, IoErrors.Reason(e), e);
        }
        foreach (var (_, old) in done) if (old is not null) AtomicFile.TryDelete(old);
        staged.Clear();
    }

    /// <summary>Removes the temporaries of anything not committed.</summary>
    public void Dispose()
    {
        foreach (var (_, _, temporary) in staged) AtomicFile.TryDelete(temporary);
        staged.Clear();
    }

    /// <summary>The common checks of a declared output: a path, no overlap with the inputs or the other outputs.</summary>
    string Prepare(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OutputWriteException(path, "the path is empty");
        var full = FullPath(path);
        foreach (var (inputGiven, inputFull) in inputs) CheckOverlap(path, full, inputGiven, inputFull);
        foreach (var (other, (otherGiven, _)) in declared.Select(d => (d.Key, d.Value)))
        {
            if (other == full) throw new OutputWriteException(path, $"{otherGiven} is written by this command too");
            if (IsWithin(full, other) || IsWithin(other, full))
                throw new OutputWriteException(path, $"it overlaps {otherGiven}, also written by this command (an output folder is replaced as a whole)");
        }
        return full;
    }

    static void CheckOverlap(string outputGiven, string outputFull, string inputGiven, string inputFull)
    {
        if (outputFull == inputFull) throw new OutputWriteException(outputGiven, "it is also an input of this command");
        if (IsWithin(inputFull, outputFull))
            throw new OutputWriteException(outputGiven, $"it holds the input {inputGiven}, which replacing it would delete");
        // a new output inside an input folder is fine; replacing something there could delete what the job reads
        if (IsWithin(outputFull, inputFull) && (File.Exists(outputFull) || Directory.Exists(outputFull)))
            throw new OutputWriteException(outputGiven, $"it lies inside the input {inputGiven} and exists: replacing it could delete what this command reads");
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or lies below it.</summary>
    static bool IsWithin(string path, string folder) =>
        path == folder || path.StartsWith(folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>Why <paramref name="directory"/> is not an earlier output of <paramref name="kind"/> it may replace; null when it is.</summary>
    static string? Foreign(string directory, OutputFolderKind kind)
    {
        if (!kind.Matches(directory)) return $"is not a {kind.Name} (it holds {Describe(Contents(directory))})";
        HashSet<string> written;
        try
        {
            using var listing = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, ListingFileName)));
            if (listing.RootElement.GetProperty("kind").GetString() != kind.Name) return $"is not a {kind.Name}";
            written = listing.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception e) when (IoErrors.IsIo(e) || e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"was not written by this version as a {kind.Name} (no readable {ListingFileName})";
        }
        var folders = written.SelectMany(f => Ancestors(f)).ToHashSet(StringComparer.Ordinal);
        var extra = Files(directory).Where(f => f != ListingFileName && !written.Contains(f))
            .Concat(Folders(directory).Where(d => !folders.Contains(d)).Select(d => d + "/")).Order(StringComparer.Ordinal).ToList();
        return extra.Count == 0 ? null : $"holds files this output did not write ({Describe(extra)})";
    }

    static void WriteListing(string folder, OutputFolderKind kind)
    {
        var files = Files(folder).Order(StringComparer.Ordinal).ToList();
        File.WriteAllText(Path.Combine(folder, ListingFileName), JsonSerializer.Serialize(new Dictionary<string, object> { ["kind"] = kind.Name, ["files"] = files }));
    }

    /// <summary>Every file below <paramref name="folder"/>, relative, with '/' separators.</summary>
    static IEnumerable<string> Files(string folder) =>
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'));

    /// <summary>Every folder below <paramref name="folder"/>, relative, with '/' separators.</summary>
    static IEnumerable<string> Folders(string folder) =>
        Directory.EnumerateDirectories(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'));

    static IEnumerable<string> Ancestors(string relativeFile)
    {
        for (var at = relativeFile.LastIndexOf('/'); at > 0; at = relativeFile.LastIndexOf('/', at - 1))
            yield return relativeFile[..at];
    }

    static string Describe(IReadOnlyList<string> names) => string.Join(", ", names.Take(3)) + (names.Count > 3 ? ", …" : "");

    void Stage(string given, string full, Action<string> build)
    {
        var parent = Path.GetDirectoryName(full)!;
        var temporary = AtomicFile.Sibling(full, "tmp");
        try
        {
            Directory.CreateDirectory(parent);
            AtomicFile.RemoveStaleTemporaries(parent);
            build(temporary);
        }
        catch (Exception e)
        {
            AtomicFile.TryDelete(temporary);
            // a write inside the output failed (a full disk, say): name the output the user gave, not its temporary
            var cause = e is AggregateException aggregate ? aggregate.Flatten().InnerExceptions.FirstOrDefault(i => IoErrors.IsIo(i) || i is OutputWriteException) ?? e : e;
            if (cause is OutputWriteException inner) throw new OutputWriteException(given, inner.Reason, inner);
            if (IoErrors.IsIo(cause)) throw new OutputWriteException(given, IoErrors.Reason(cause), cause);
            throw;
        }
        staged.Add((given, full, temporary));
    }

    static void Move(string from, string to)
    {
        if (Directory.Exists(from)) Directory.Move(from, to);
        else File.Move(from, to);
    }

    /// <summary>The absolute path, with a symbolic link at its end or at its parent resolved, so that a link cannot hide an overlap.</summary>
    static string FullPath(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new OutputWriteException(path, "the path is empty");
        var full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (full.Length == 0) return "/";
        try
        {
            FileSystemInfo info = Directory.Exists(full) ? new DirectoryInfo(full) : new FileInfo(full);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target) return target.FullName.TrimEnd(Path.DirectorySeparatorChar);
            var parent = Path.GetDirectoryName(full);
            if (parent is not null && new DirectoryInfo(parent) is { LinkTarget: not null } link && link.ResolveLinkTarget(returnFinalTarget: true) is { } resolved)
                return Path.Combine(resolved.FullName, Path.GetFileName(full));
        }
        catch (Exception e) when (IoErrors.IsIo(e)) { }
        return full;
    }

    static List<string> Contents(string directory)
    {
        try { return Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(4).ToList()!; }
        catch (Exception e) when (IoErrors.IsIo(e)) { return ["entries that cannot be listed"]; }
    }

    /// <summary>
    /// The nearest existing folder on the way must be a folder and take a new file: probed by creating and removing a
    /// temporary there, which is what finds a read-only file system or a folder without write permission.
    /// </summary>
    static void CheckWritable(string given, string full)
    {
        var target = Directory.Exists(full) ? full : Path.GetDirectoryName(full);
        while (target is not null && !Directory.Exists(target))
        {
            if (File.Exists(target)) throw new OutputWriteException(given, $"{target} is a file, not a folder");
            target = Path.GetDirectoryName(target);
        }
        if (target is null) return;
        // a replaced output is renamed beside itself, so its parent must take new entries too
        if (target == full && Path.GetDirectoryName(full) is { } parent) target = parent;
        var probe = AtomicFile.Sibling(Path.Combine(target, "probe"), "tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw new OutputWriteException(given, IoErrors.Reason(e), e);
        }
    }
}
