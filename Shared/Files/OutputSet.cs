using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Files;

/// <summary>
/// The outputs of one job, all or none: each path is checked when it is declared (before the work starts), each
/// output is built under a temporary name, and <see cref="Commit"/> renames them all into place, putting back what
/// they replaced if any rename fails. Disposing without a commit removes the temporaries.
/// </summary>
/// <remarks>
/// A folder output replaces only a missing or empty folder or an earlier output of the same
/// <see cref="OutputFolderKind"/>, unless <paramref name="force"/>: a user's folder is never emptied by a typo.
/// </remarks>
/// <exception cref="OutputWriteException">A path cannot be written (permission, read-only or full file system, a file in the way).</exception>
/// <exception cref="OutputExistsException">A folder output names a folder that holds something else.</exception>
public sealed class OutputSet(bool force = false) : IDisposable
{
    readonly List<(string Given, string Full, string Temporary)> staged = [];
    readonly HashSet<string> declared = new(StringComparer.Ordinal);

    /// <summary>Checks that a folder output may be written at <paramref name="path"/>; call before the work starts.</summary>
    public void DeclareFolder(string path, OutputFolderKind kind)
    {
        var full = FullPath(path);
        if (File.Exists(full) && !force)
            throw new OutputWriteException(path, "a file exists where a folder is wanted (choose another path, or pass --force to replace it)");
        if (Directory.Exists(full) && !force && !kind.Matches(full))
        {
            var contents = Contents(full);
            if (contents.Count > 0)
                throw new OutputExistsException($"{path} exists and is not a {kind.Name} (it holds {string.Join(", ", contents.Take(3))}{(contents.Count > 3 ? ", …" : "")}); choose another path, or pass --force to replace it");
        }
        CheckWritable(path, full);
        declared.Add(full);
    }

    /// <summary>Checks that a file output may be written at <paramref name="path"/>; call before the work starts.</summary>
    public void DeclareFile(string path)
    {
        var full = FullPath(path);
        if (Directory.Exists(full)) throw new OutputWriteException(path, "it is a folder, not a file");
        CheckWritable(path, full);
        declared.Add(full);
    }

    /// <summary>Builds a file under a temporary name; it appears at <paramref name="path"/> on <see cref="Commit"/>.</summary>
    public void WriteFile(string path, Action<Stream> write)
    {
        var full = FullPath(path);
        if (!declared.Contains(full)) DeclareFile(path);
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
        if (!declared.Contains(full)) CheckWritable(path, full); // AtomicFile's callers replace what is there
        Stage(path, full, temporary =>
        {
            Directory.CreateDirectory(temporary);
            fill(temporary);
        });
    }

    /// <summary>Renames every staged output into place, in the order written; on failure, restores what was replaced.</summary>
    public void Commit()
    {
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
            if (IoErrors.IsIo(e)) throw new OutputWriteException(given, IoErrors.Reason(e), e);
            throw;
        }
        staged.Add((given, full, temporary));
    }

    static void Move(string from, string to)
    {
        if (Directory.Exists(from)) Directory.Move(from, to);
        else File.Move(from, to);
    }

    static string FullPath(string path) => Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar) is { Length: > 0 } p ? p : "/";

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
