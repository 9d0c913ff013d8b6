using Pipeline.Inference.Runtime;
using TorchSharp;

namespace Pipeline.Training.Engine;

/// <summary>
/// Where TorchSharp trains, chosen as every command's <c>--device</c> chooses (the inference side's
/// <see cref="Device"/>: auto, cpu, cuda), and LibTorch's process-wide settings.
/// </summary>
public static class TorchDevice
{
    /// <summary>
    /// The device for <paramref name="choice"/>: <see cref="Device.Auto"/> is CUDA when LibTorch sees a GPU, else the CPU.
    /// </summary>
    /// <exception cref="DeviceUnavailableException"><see cref="Device.Cuda"/> was asked for and LibTorch has no CUDA here.</exception>
    public static torch.Device Resolve(Device choice) => choice switch
    {
        Device.Cpu => torch.CPU,
        Device.Cuda when torch.cuda.is_available() => torch.CUDA,
        Device.Cuda => throw new DeviceUnavailableException(
            "--device cuda: LibTorch sees no CUDA device here (this build carries TorchSharp-cpu; the README's \"Training on a GPU\" says how to swap in TorchSharp's CUDA package); use --device cpu, or auto to fall back to the CPU"),
        _ => torch.cuda.is_available() ? torch.CUDA : torch.CPU,
    };

    /// <summary>A line's worth on where training runs: "the CPU (2 threads)" or "CUDA device 0 (name)".</summary>
    /// <param name="threads">The job's intra-op threads when it sets its own (<see cref="SmallWorkThreadCount"/>); else LibTorch's now.</param>
    public static string Describe(torch.Device device, int? threads = null)
    {
        if (device.type == DeviceType.CUDA) return $"CUDA device {Math.Max(device.index, 0)}";
        var count = threads ?? torch.get_num_threads();
        return $"the CPU ({count} thread{(count == 1 ? "" : "s")})";
    }

    /// <summary>
    /// The training side's threads: the toolkit's own parallel loops (<see cref="Shared.Threading.ComputeThreads"/>,
    /// which checks the value) and LibTorch's intra-op threads; 0 leaves one per core. TorchSharp 0.107 leaves
    /// <c>torch.use_deterministic_algorithms</c> unimplemented; on the CPU the same seed and the same thread count give
    /// the same model, which the training tests hold.
    /// </summary>
    /// <exception cref="Shared.Errors.InvalidOptionException"><paramref name="threads"/> is negative or more than 4 per core.</exception>
    public static void Configure(int threads)
    {
        Shared.Threading.ComputeThreads.Max = threads;
        if (threads > 0) torch.set_num_threads(threads);
    }

    /// <summary>
    /// LibTorch's intra-op threads for a job whose every operation is small (a few MFLOP a step, as the VAE's batch of
    /// 128 through layers of at most 256): <paramref name="threads"/>, or, when null, the <c>--threads</c> the host was
    /// given (<see cref="Configure"/>), or else one, since splitting such work costs more in hand-offs than it saves.
    /// Disposing restores the previous count.
    /// </summary>
    public static IDisposable SmallWorkThreads(int? threads)
    {
        var previous = torch.get_num_threads();
        torch.set_num_threads(SmallWorkThreadCount(threads));
        return new Restore(previous);
    }

    /// <summary>The count <see cref="SmallWorkThreads"/> sets.</summary>
    /// <exception cref="Shared.Errors.InvalidOptionException"><paramref name="threads"/> is below 1.</exception>
    public static int SmallWorkThreadCount(int? threads)
    {
        var chosen = threads ?? (Shared.Threading.ComputeThreads.Max is > 0 and var set ? set : 1);
        if (chosen < 1) throw new Shared.Errors.InvalidOptionException($"threads must be ≥ 1, got {chosen}");
        return chosen;
    }

    sealed class Restore(int threads) : IDisposable
    {
        public void Dispose() => torch.set_num_threads(threads);
    }
}
