using System.CommandLine;
using Pipeline.Inference.Runtime;

/// <summary>
/// Compiled into both hosts (the training host includes this file). <c>--device cpu|cuda|auto</c>, parsed the same way on both sides; each host's description
/// says what auto picks there (ONNX Runtime's CUDA provider, or LibTorch's CUDA).
/// </summary>
static class DeviceOption
{
    public static Option<Device> Create(string description) => new("--device")
    {
        Description = description, HelpName = "cpu|cuda|auto",
        Recursive = true, DefaultValueFactory = _ => Device.Auto,
        CustomParser = r => r.Tokens.Single().Value.ToLowerInvariant() switch
        {
            "cpu" => Device.Cpu,
            "cuda" => Device.Cuda,
            "auto" => Device.Auto,
            var other => CommonOptions.Refuse<Device>(r, $"--device must be cpu, cuda or auto, got '{other}'"),
        },
    };
}
