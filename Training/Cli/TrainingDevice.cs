using System.CommandLine;
using Pipeline.Inference.Runtime;
using Pipeline.Training.Engine;

/// <summary>The training host's <c>--device</c> option (what it means: <see cref="TorchDevice"/>).</summary>
static class TrainingDevice
{
    public static Option<Device> Create() =>
        DeviceOption.Create("Where LibTorch trains: cpu, cuda, or auto (CUDA when LibTorch sees a GPU, else the CPU)");
}
