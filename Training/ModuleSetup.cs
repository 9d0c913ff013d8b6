using System.Runtime.CompilerServices;
using Pipeline.Training.Native;

namespace Pipeline.Training;

static class ModuleSetup
{
    // Native names used by this assembly ("blas") resolve through the shared resolver before first use.
#pragma warning disable CA2255 // a library must route its native names before its first P/Invoke
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterNativeResolver() => NativeLibraries.Register(typeof(ModuleSetup).Assembly);
}
