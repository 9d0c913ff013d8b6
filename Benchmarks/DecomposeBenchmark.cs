using System.Diagnostics;
using Pipeline.Training.Decomposition;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Benchmarks;

/// <summary>
/// Per-iteration time of the torchnmf-style models on the sizes: Nmfd (V 1025 × 2000, rank 8, T 32,
/// β = 1, one BetaMu step updating H then W), Nmf2d (V 1 × 1 × 512 × 1000, rank 16, kernel 3 × 16) and Plca
/// (1025 × 5168, rank 88, one EM iteration), beside the roofline: the GEMM FLOPs one iteration must do at the
/// measured sgemm rate (each BetaMu parameter update needs a forward pass and two backward products).
/// </summary>
static class DecomposeBenchmark
{
    public static void Run(MachineLimits limits)
    {
        Console.WriteLine("decomposition models, one iteration (median of 7 after 1 warm-up)");
        {
            const int c = 1025, l = 2000, r = 8, t = 32;
            var v = rand([1, c, l], generator: new Generator(1)) + 0.01f;
            var model = new Nmfd([1, c, l], r, t, new Generator(2));
            var trainer = new BetaMu(model.parameters(), beta: 1);
            // per parameter update: forward (2·C·R·T·L) and two backward products into that parameter (2 × 2·C·R·T·L)
            Report("Nmfd 1025 × 2000, R 8, T 32, β 1", () => trainer.step(() => (model.forward(), v)).Dispose(), 2 * 3 * 2.0 * c * r * t * l, limits);
        }
        {
            const int rows = 512, cols = 1000, r = 16;
            var v = rand([1, 1, rows, cols], generator: new Generator(1)) + 0.01f;
            var model = new Nmf2d([1, 1, rows, cols], r, (3, 16), new Generator(2));
            var trainer = new BetaMu(model.parameters(), beta: 1);
            Report("Nmf2d 512 × 1000, R 16, kernel 3 × 16, β 1", () => trainer.step(() => (model.forward(), v)).Dispose(), 2 * 3 * 2.0 * r * 3 * 16 * rows * cols, limits);
        }
        {
            const int f = 1025, n = 5168, r = 88;
            var v = rand([n, f], generator: new Generator(1)) + 0.01f;
            var model = new Plca([n, f], r, new Generator(2));
            // forward H·diag(Z)·Wᵀ and the backward products into H and W
            Report("Plca 1025 × 5168, R 88 (EM)", () => model.Fit(v, tolerance: 0, maxIterations: 1), 3 * 2.0 * f * n * r, limits);
        }
    }

    static void Report(string what, Action iteration, double flops, MachineLimits limits)
    {
        iteration();
        var times = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            iteration();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        var roofline = flops / (limits.SgemmGflops * 1e9) * 1e3;
        Console.WriteLine($"  {what,-46} {times[3],9:F1} ms   roofline {roofline:F1} ms   x roofline {times[3] / roofline:F1}");
    }
}
