using System.Diagnostics;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Fitting;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Benchmarks;

/// <summary>
/// The DCASE 2020 Task 2 baseline autoencoder (1280-512-256-128-256-512-1280, ReLU, BatchNorm, Dropout 0.2) on the training
/// engine: one epoch of 50 000 random frames (MSE, Adam with weight decay, batch 100, through
/// <see cref="TrainingLoop"/>) and the evaluation-mode forward pass of 1000 frames. The roofline is the
/// GEMM FLOPs at the measured sgemm rate: 2·MACs per sample forward, 4·MACs backward (weight and input
/// gradients) less the first layer's input gradient, which training never needs. Each also runs on TorchSharp
/// (<see cref="Training.Networks.Autoencoder"/>, <see cref="Training.Networks.AutoencoderTrainer"/>) in the same sitting.
/// </summary>
static class AutoencoderBenchmark
{
    const int Frames = 50_000, Batch = 100, Input = 1280;

    static long MultiplyAccumulates(Autoencoder model) =>
        model.Parameters().Where(p => p.Rank == 2).Sum(p => (long)p.Count);

    public static void Train(MachineLimits limits)
    {
        var g = new Generator(1);
        var model = new Autoencoder(generator: g);
        var data = Tensor.Randn(g, Frames, Input);
        var adam = new Adam(model.Parameters(), 1e-4, weightDecay: 1e-4);
        var loop = new TrainingLoop(model, adam, g, new TrainingLoopOptions { Epochs = 1, BatchSize = Batch });
        Func<int[], Tensor> loss = indices =>
        {
            var x = data.IndexSelect(0, indices);
            return Losses.Mse(model.Forward(x), x);
        };
        // warm-up: JIT and BLAS buffers, on a slice of the data
        new TrainingLoop(model, adam, g, new TrainingLoopOptions { Epochs = 1, BatchSize = Batch }).Run(2_000, loss);
        var times = new List<double>();
        for (var run = 0; run < 3; run++)
        {
            var clock = Stopwatch.StartNew();
            loop.Run(Frames, loss);
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        var macs = MultiplyAccumulates(model);
        var firstLayer = (long)Input * 512;
        var flops = (6.0 * macs - 2.0 * firstLayer) * Frames;
        var roofline = flops / (limits.SgemmGflops * 1e9);
        Console.WriteLine($"ae-train: one epoch of {Frames} frames × {Input}, batch {Batch}, Adam + weight decay (median of 3)");
        Console.WriteLine($"  home-made engine {times[1],6:F2} s/epoch   target 8 s   roofline {roofline:F2} s   x roofline {times[1] / roofline:F2}   {flops / times[1] / 1e9:F0} GFLOP/s   (runs: {string.Join(", ", times.Select(t => t.ToString("F2")))})");

        TorchSharp.torch.manual_seed(1);
        using var network = Training.Networks.Autoencoder.Dcase2020Baseline();
        using var rows = TorchSharp.torch.randn(Frames, Input);
        var options = new Training.Networks.AutoencoderTrainingOptions { Epochs = 1, ConstantEpochs = 1, BatchSize = Batch };
        using (var warmUp = rows.narrow(0, 0, 2_000)) Training.Networks.AutoencoderTrainer.Fit(network, warmUp, options);
        var torchTimes = new List<double>();
        for (var run = 0; run < 3; run++)
        {
            var clock = Stopwatch.StartNew();
            Training.Networks.AutoencoderTrainer.Fit(network, rows, options);
            torchTimes.Add(clock.Elapsed.TotalSeconds);
        }
        torchTimes.Sort();
        Console.WriteLine($"  TorchSharp       {torchTimes[1],6:F2} s/epoch   target 6 s   roofline {roofline:F2} s   x roofline {torchTimes[1] / roofline:F2}   {flops / torchTimes[1] / 1e9:F0} GFLOP/s   (runs: {string.Join(", ", torchTimes.Select(t => t.ToString("F2")))})");
    }

    public static void Forward(MachineLimits limits)
    {
        var g = new Generator(2);
        var model = new Autoencoder(generator: g);
        model.Eval();
        var x = Tensor.Randn(g, 1000, Input);
        var times = new List<double>();
        using (Tensor.NoGrad())
        {
            for (var i = 0; i < 3; i++) model.Forward(x);
            for (var i = 0; i < 21; i++)
            {
                var clock = Stopwatch.StartNew();
                model.Forward(x);
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        times.Sort();
        var flops = 2.0 * MultiplyAccumulates(model) * 1000;
        var roofline = flops / (limits.SgemmGflops * 1e9) * 1e3;
        Console.WriteLine($"ae-forward: evaluation-mode forward of 1000 × {Input} (median of 21)");
        Console.WriteLine($"  home-made engine {times[10],6:F1} ms   target 40 ms   roofline {roofline:F1} ms   x roofline {times[10] / roofline:F2}   {flops / times[10] / 1e6:F0} GFLOP/s");

        TorchSharp.torch.manual_seed(2);
        using var network = Training.Networks.Autoencoder.Dcase2020Baseline();
        network.eval();
        using var rows = TorchSharp.torch.randn(1000, Input);
        var torchTimes = new List<double>();
        using (TorchSharp.torch.no_grad())
        {
            for (var i = 0; i < 31; i++)
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                var clock = Stopwatch.StartNew();
                network.forward(rows);
                if (i >= 10) torchTimes.Add(clock.Elapsed.TotalMilliseconds); // LibTorch settles its kernels over the first calls
            }
        }
        torchTimes.Sort();
        Console.WriteLine($"  TorchSharp       {torchTimes[10],6:F1} ms   target 40 ms   roofline {roofline:F1} ms   x roofline {torchTimes[10] / roofline:F2}   {flops / torchTimes[10] / 1e6:F0} GFLOP/s");
    }
}
