using System.Runtime.CompilerServices;
using Pipeline.Training.Engine;

namespace Pipeline.Training;

static class ModuleSetup
{
    // LibTorch reads these process settings when it first loads or allocates: before any training type is used.
#pragma warning disable CA2255 // a library must configure the native side before its first call into it
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void ConfigureNativeSide()
    {
        // LibTorch's MKL, before its first call: conditional numerical reproducibility on the best code path for this
        // processor. Without it a 2-thread GEMM gave other last bits from run to run on a loaded machine, and MKL's
        // default path was slower here (autoencoder epoch 7.6 s against 5.2 s). A user's own MKL_CBWR wins.
        ProcessEnvironment.SetDefault("MKL_CBWR", "AUTO");
        NativeHeap.KeepFreedMemory();
    }
}
