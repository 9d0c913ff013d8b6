using System.CommandLine;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Errors;
using Pipeline.Training.Engine;

/// <summary>The training host's <c>--device</c>: LibTorch's device, and the trainers that run on the CPU only.</summary>
static class TrainingDevice
{
    public static Option<Device> Create() =>
        DeviceOption.Create("Where LibTorch trains: cpu, cuda, or auto (CUDA when LibTorch sees a GPU, else the CPU)");

    /// <summary>
    /// For a trainer on the CPU kernels: a missing CUDA is refused as everywhere, and an explicit <c>cuda</c> is refused
    /// naming the trainer and what runs on CUDA instead; <c>auto</c> means the CPU.
    /// </summary>
    public static void RequireCpu(Device choice, string trainer, string onCuda)
    {
        TorchDevice.Resolve(choice);
        if (choice == Device.Cuda)
            throw new InvalidOptionException($"--device cuda: {trainer} runs on the CPU in this version; {onCuda}use --device cpu");
    }
}
