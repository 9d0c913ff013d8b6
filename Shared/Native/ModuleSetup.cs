using System.Runtime.CompilerServices;

namespace Pipeline.Shared.Native;

static class ModuleSetup
{
    // OpenBLAS (training's BLAS) resolves through the shared resolver before this assembly's first P/Invoke.
#pragma warning disable CA2255 // a library must route its native names before its first P/Invoke
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterNativeResolver() => NativeLibraries.Register(typeof(ModuleSetup).Assembly);
}
