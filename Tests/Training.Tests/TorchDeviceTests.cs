using Pipeline.Inference.Runtime;
using Pipeline.Training.Engine;
using TorchSharp;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class TorchDeviceTests
{
    [Fact]
    public void Cuda_WithoutCuda_IsOneLineNamingTheWayOut_AndAutoFallsBackToTheCpu()
    {
        Assert.Equal(DeviceType.CPU, TorchDevice.Resolve(Device.Cpu).type);
        if (torch.cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, TorchDevice.Resolve(Device.Auto).type);
            return;
        }
        Assert.Equal(DeviceType.CPU, TorchDevice.Resolve(Device.Auto).type);
        var e = Assert.Throws<DeviceUnavailableException>(() => TorchDevice.Resolve(Device.Cuda));
        Assert.StartsWith("--device cuda: LibTorch sees no CUDA device here", e.Message);
        Assert.Contains("--device cpu", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Threads_SetLibTorchsIntraOpThreads()
    {
        var before = torch.get_num_threads();
        try
        {
            TorchDevice.Configure(1);
            Assert.Equal(1, torch.get_num_threads());
            TorchDevice.Configure(0); // LibTorch's own choice stays
            Assert.Equal(1, torch.get_num_threads());
            Assert.Throws<Shared.Errors.InvalidOptionException>(() => TorchDevice.Configure(-1));
        }
        finally { torch.set_num_threads(before); }
    }

    [Fact]
    public void SmallWork_RunsOnOneThreadUnlessTheHostOrTheJobSaysOtherwise_AndRestoresTheCount()
    {
        var before = torch.get_num_threads();
        try
        {
            torch.set_num_threads(2);
            Shared.Threading.ComputeThreads.Max = 0; // no --threads
            using (TorchDevice.SmallWorkThreads(null)) Assert.Equal(1, torch.get_num_threads());
            Assert.Equal(2, torch.get_num_threads());
            using (TorchDevice.SmallWorkThreads(3)) Assert.Equal(3, torch.get_num_threads());
            TorchDevice.Configure(2); // --threads 2
            Assert.Equal(2, TorchDevice.SmallWorkThreadCount(null));
            Assert.Equal("the CPU (1 thread)", TorchDevice.Describe(torch.CPU, 1));
            Assert.Throws<Shared.Errors.InvalidOptionException>(() => TorchDevice.SmallWorkThreadCount(0));
            Assert.Throws<Shared.Errors.InvalidOptionException>(() => new Vae.VaeTrainingOptions { Threads = 0 }.Validate());
        }
        finally
        {
            Shared.Threading.ComputeThreads.Max = 0;
            torch.set_num_threads(before);
        }
    }
}
