using System.Runtime.CompilerServices;
using Pipeline.Training.Native;

namespace Pipeline.Training;

static class ModuleSetup
{
    // Native names used by this assembly ("blas") resolve through the shared resolver before first use.
#pragma warning disable CA2255 // a library must route its native names before its first P/Invoke
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterNativeResolver()
    {
        NativeLibraries.Register(typeof(ModuleSetup).Assembly);
        // LibTorch's MKL, before its first call: conditional numerical reproducibility on the best code path for this
        // processor. Without it a 2-thread GEMM gave other last bits from run to run on a loaded machine, and MKL's
        // default path was slower here (autoencoder epoch 7.6 s against 5.2 s). A user's own MKL_CBWR wins.
        ProcessEnvironment.SetDefault("MKL_CBWR", "AUTO");
        Engine.NativeHeap.KeepFreedMemory();
    }
}
