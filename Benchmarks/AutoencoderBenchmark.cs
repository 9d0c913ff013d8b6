using System.Diagnostics;
using Pipeline.Training.Networks;
using static TorchSharp.torch;

namespace Pipeline.Benchmarks;

/// <summary>
/// The DCASE 2020 Task 2 baseline autoencoder (1280-512-256-128-256-512-1280, ReLU, BatchNorm, Dropout 0.2) on
/// TorchSharp: one epoch of 50 000 random frames (MSE, Adam with weight decay, batch 100, through
/// <see cref="AutoencoderTrainer"/>) and the evaluation-mode forward pass of 1000 frames. The roofline is the
/// GEMM FLOPs at the measured sgemm rate: 2·MACs per sample forward, 4·MACs backward (weight and input
/// gradients) less the first layer's input gradient, which training never needs.
/// </summary>
static class AutoencoderBenchmark
{
    const int Frames = 50_000, Batch = 100, Input = 1280;

    static long MultiplyAccumulates(Autoencoder model) =>
        model.parameters().Where(p => p.dim() == 2).Sum(p => p.numel());

    public static void Train(MachineLimits limits)
    {
        manual_seed(1);
        using var network = Autoencoder.Dcase2020Baseline();
        using var rows = randn(Frames, Input);
        var options = new AutoencoderTrainingOptions { Epochs = 1, ConstantEpochs = 1, BatchSize = Batch };
        using (var warmUp = rows.narrow(0, 0, 2_000)) AutoencoderTrainer.Fit(network, warmUp, options);
        var times = new List<double>();
        for (var run = 0; run < 3; run++)
        {
            var clock = Stopwatch.StartNew();
            AutoencoderTrainer.Fit(network, rows, options);
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        var macs = MultiplyAccumulates(network);
        var firstLayer = (long)Input * 512;
        var flops = (6.0 * macs - 2.0 * firstLayer) * Frames;
        var roofline = flops / (limits.SgemmGflops * 1e9);
        Console.WriteLine($"ae-train: one epoch of {Frames} frames × {Input}, batch {Batch}, Adam + weight decay (median of 3)");
        Console.WriteLine($"  TorchSharp {times[1],6:F2} s/epoch   target 6 s   roofline {roofline:F2} s   x roofline {times[1] / roofline:F2} (target 2.5)   {flops / times[1] / 1e9:F0} GFLOP/s   (runs: {string.Join(", ", times.Select(t => t.ToString("F2")))})");
    }

    public static void Forward(MachineLimits limits)
    {
        manual_seed(2);
        using var network = Autoencoder.Dcase2020Baseline();
        network.eval();
        using var rows = randn(1000, Input);
        var times = new List<double>();
        using (no_grad())
        {
            for (var i = 0; i < 31; i++)
            {
                using var scope = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                network.forward(rows);
                if (i >= 10) times.Add(clock.Elapsed.TotalMilliseconds); // LibTorch settles its kernels over the first calls
            }
        }
        times.Sort();
        var flops = 2.0 * MultiplyAccumulates(network) * 1000;
        var roofline = flops / (limits.SgemmGflops * 1e9) * 1e3;
        Console.WriteLine($"ae-forward: evaluation-mode forward of 1000 × {Input} (median of 21)");
        Console.WriteLine($"  TorchSharp {times[10],6:F1} ms   target 40 ms   roofline {roofline:F1} ms   x roofline {times[10] / roofline:F2}   {flops / times[10] / 1e6:F0} GFLOP/s");
    }
}
