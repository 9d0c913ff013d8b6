using Pipeline.Training.Engine;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class NativeHeapTests
{
    [Fact]
    public void GlibcAcceptsTheSettings_AndAUsersMallocVariablesWin()
    {
        Assert.True(OperatingSystem.IsLinux());
        Assert.True(NativeHeap.KeepFreedMemory(), "glibc refused the mmap or trim threshold");
        try
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", "2");
            Assert.False(NativeHeap.KeepFreedMemory());
        }
        finally
        {
            Environment.SetEnvironmentVariable("MALLOC_ARENA_MAX", null);
        }
    }
}
