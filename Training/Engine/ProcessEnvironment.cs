using System.Runtime.InteropServices;

namespace Pipeline.Training.Engine;

/// <summary>
/// The process environment as native libraries read it (getenv). On Unix .NET keeps its own copy of the environment,
/// so <see cref="Environment.SetEnvironmentVariable(string, string)"/> is not seen by a native library's getenv.
/// </summary>
static partial class ProcessEnvironment
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>Sets <paramref name="name"/> for native code unless the user has set it (their value wins).</summary>
    public static void SetDefault(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is not null) return;
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else SetEnv(name, value, overwrite: 0);
    }
}
