using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Native;

/// <summary>A native library the project calls, the file it lives in, and how a user installs it.</summary>
/// <param name="Name">The logical name used in <c>[LibraryImport]</c> attributes.</param>
/// <param name="FileName">The versioned shared-object name searched for.</param>
/// <param name="Description">What the library is, for error messages.</param>
/// <param name="InstallCommand">The command that installs it on Debian.</param>
public sealed record NativeLibrarySpec(string Name, string FileName, string Description, string InstallCommand);

/// <summary>
/// The one place where native names become files. Search order: <c>PIPELINE_NATIVE_DIR</c>, then the system's
/// loader paths. A library that is nowhere fails with one line naming it and its install command;
/// nothing silently falls back to a slower managed path.
/// </summary>
public static class NativeLibraries
{
    public const string DirectoryVariable = "PIPELINE_NATIVE_DIR";

    public static readonly NativeLibrarySpec Blas =
        new("blas", "libblas.so.3", "BLAS (OpenBLAS)", "apt-get install libopenblas0-pthread  (or ./run setup)");

    static readonly Dictionary<string, NativeLibrarySpec> Known =
        new[] { Blas }.ToDictionary(s => s.Name);

    static readonly ConcurrentDictionary<string, IntPtr> Loaded = new();
    static readonly ConcurrentDictionary<Assembly, bool> Registered = new();

    /// <summary>Routes the <c>[LibraryImport]</c>/<c>[DllImport]</c> names of <paramref name="assembly"/> through this resolver.</summary>
    public static void Register(Assembly assembly)
    {
        if (!Registered.TryAdd(assembly, true)) return;
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) =>
            Known.TryGetValue(name, out var spec) ? Load(spec) : IntPtr.Zero);
    }

    /// <summary>Loads the library once per process and returns its handle.</summary>
    /// <exception cref="NativeLibraryMissingException">It is in none of the searched places.</exception>
    public static IntPtr Load(NativeLibrarySpec spec) => Loaded.GetOrAdd(spec.FileName, _ => LoadUncached(spec));

    /// <summary>Address of an exported symbol of a library.</summary>
    public static IntPtr GetExport(NativeLibrarySpec spec, string symbol)
    {
        if (NativeLibrary.TryGetExport(Load(spec), symbol, out var address)) return address;
        throw new NativeLibraryMissingException(
            $"{spec.FileName} ({spec.Description}) was loaded but does not export '{symbol}'; install the expected version with: {spec.InstallCommand}");
    }

    /// <summary>The directories searched before the system's loader paths, in order.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) dirs.Add(Path.GetFullPath(fromEnv));
        return dirs;
    }

    static IntPtr LoadUncached(NativeLibrarySpec spec)
    {
        if (spec == Blas) OpenBlasCore.Choose();
        var dirs = SearchDirectories();
        foreach (var dir in dirs)
        {
            var path = Path.Combine(dir, spec.FileName);
            if (!File.Exists(path)) continue;
            try { return NativeLibrary.Load(path); }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new NativeLibraryMissingException(
                    $"{spec.FileName} ({spec.Description}) at {path} could not be loaded ({e.Message}); reinstall it with: {spec.InstallCommand}", e);
            }
        }
        if (NativeLibrary.TryLoad(spec.FileName, out var handle)) return handle;
        var searched = dirs.Count == 0 ? "" : string.Join(", ", dirs) + ", ";
        throw new NativeLibraryMissingException(
            $"native library {spec.FileName} ({spec.Description}) not found in {searched}{DirectoryVariable} or the system paths; install it with: {spec.InstallCommand}");
    }
}
