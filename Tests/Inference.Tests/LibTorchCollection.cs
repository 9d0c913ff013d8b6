namespace Pipeline.Inference.Tests;

/// <summary>
/// The test classes that train with LibTorch run alone, one after another. TorchSharp 0.107 passes a Scalar's native
/// handle without keeping the Scalar alive (torch's mul_(Scalar), and its Adam's steps through it): a garbage
/// collection that another test's allocations start during such a call can finalize the Scalar under LibTorch's
/// feet ("Unknown scalar type"). A test thread alone in the process starts no collection inside a native call.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LibTorchCollection
{
    public const string Name = "LibTorch";
}
