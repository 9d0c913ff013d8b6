using System.Diagnostics;
using Pipeline.Shared.Arrays;
using Pipeline.Training.Vae;

namespace Pipeline.Benchmarks;

/// <summary>
/// One epoch of the mel-cepstrum VAE (39-256-128-64, batch 128, Adam) on 80 000 frames, the recipe's data size, beside
/// the GEMM-FLOP roofline at the measured sgemm rate (forward 2·MACs, backward 4·MACs per sample, less the first
/// layer's input gradient).
/// </summary>
static class VaeBenchmark
{
    public static void Run(MachineLimits limits)
    {
        const int frames = 80_000, d = 39;
        TorchSharp.torch.manual_seed(1);
        float[] x;
        using (var draws = TorchSharp.torch.randn(frames, d)) x = draws.data<float>().ToArray();
        var data = new NdArray([frames, d], x);
        VaeTraining.Train(new NdArray([4_000, d], x[..(4_000 * d)]), new VaeTrainingOptions { Epochs = 1 }); // warm-up
        var times = new List<double>();
        VariationalAutoencoder? model = null;
        for (var run = 0; run < 3; run++)
        {
            var clock = Stopwatch.StartNew();
            model = VaeTraining.Train(data, new VaeTrainingOptions { Epochs = 1, Seed = run }).Model;
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        var macs = model!.parameters().Where(p => p.dim() == 2).Sum(p => p.numel());
        var flops = (6.0 * macs - 2.0 * d * 256) * frames;
        var roofline = flops / (limits.SgemmGflops * 1e9);
        Console.WriteLine($"vae: one epoch of {frames} frames × {d}, 39-256-128-64 and back, batch 128, Adam, TorchSharp (median of 3)");
        Console.WriteLine($"  {times[1],6:F2} s/epoch   target 1.5 s ({times[1] / 1.5:F2} of it)   roofline {roofline:F3} s   x roofline {times[1] / roofline:F1}");
    }
}
