using System.Diagnostics;
using System.Text.RegularExpressions;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Files;

/// <summary>
/// Writes that either complete or leave nothing behind: data goes to a temporary sibling first and is renamed
/// into place, so a killed job never leaves a half-written artifact under its final name. Temporaries are named
/// <c>.&lt;name&gt;.&lt;pid&gt;.&lt;guid&gt;.tmp</c> (and replaced outputs <c>….old</c> until the swap is done), so
/// the next write into the same folder can remove those of processes that are gone.
/// </summary>
/// <exception cref="OutputWriteException">Every write failure, naming the path the caller gave.</exception>
public static partial class AtomicFile
{
    /// <summary>Writes a file through <paramref name="write"/> and renames it into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var set = new OutputSet();
        set.WriteFile(path, write);
        set.Commit();
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Builds a whole folder in a temporary sibling and swaps it in as <paramref name="directory"/>; an existing
    /// folder of that name is replaced only after the new one is complete.
    /// </summary>
    public static void WriteDirectory(string directory, Action<string> fill)
    {
        using var set = new OutputSet();
        set.WriteFolder(directory, fill);
        set.Commit();
    }

    /// <summary>A temporary (<paramref name="suffix"/> "tmp") or replaced ("old") sibling of <paramref name="fullPath"/>, owned by this process.</summary>
    public static string Sibling(string fullPath, string suffix) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.{suffix}");

    [GeneratedRegex(@"^\.(?<name>.+)\.(?<pid>\d{1,10})\.[0-9a-f]{32}\.(?<suffix>tmp|old)$")]
    private static partial Regex TemporaryName();

    /// <summary>
    /// Removes the temporaries and replaced copies in <paramref name="directory"/> left by processes that no longer
    /// run (a job killed mid-write); those of running processes are theirs and stay. A replaced copy whose output is
    /// missing (the job died between its renames) is put back instead. Returns how many were removed or restored.
    /// </summary>
    public static int RemoveStaleTemporaries(string directory)
    {
        if (!Directory.Exists(directory)) return 0;
        var removed = 0;
        IEnumerable<string> entries;
        try { entries = Directory.EnumerateFileSystemEntries(directory, ".*").ToList(); }
        catch (Exception e) when (IoErrors.IsIo(e)) { return 0; }
        foreach (var entry in entries)
        {
            var match = TemporaryName().Match(Path.GetFileName(entry));
            if (!match.Success || !int.TryParse(match.Groups["pid"].Value, out var pid) || IsRunning(pid)) continue;
            try
            {
                var original = Path.Combine(directory, match.Groups["name"].Value);
                if (match.Groups["suffix"].Value == "old" && !File.Exists(original) && !Directory.Exists(original))
                {
                    if (Directory.Exists(entry)) Directory.Move(entry, original);
                    else File.Move(entry, original);
                }
                else if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                else File.Delete(entry);
                removed++;
            }
            catch (Exception e) when (IoErrors.IsIo(e)) { }
        }
        return removed;
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
        catch (Exception e) when (IoErrors.IsIo(e)) { }
    }
}
