using System.Diagnostics;
using Pipeline.Shared.Arrays;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Synthesis;

namespace Pipeline.Benchmarks;

/// <summary>
/// One EM iteration (E-step and M-step) on 100 000 × 64 data with K = 16, diagonal and full covariance, beside
/// the roofline: the longer of the iteration's BLAS FLOPs at the measured sgemm rate and its least memory traffic
/// at the measured bandwidth (float32 samples and squares read twice, the (N, K) responsibilities written and
/// read a few times in double precision).
/// </summary>
static class MixtureBenchmark
{
    const int N = 100_000, D = 64, K = 16;

    public static void Run(MachineLimits limits)
    {
        var g = new SeededRandom(1);
        var x = new float[N * D];
        g.FillNormal(x, 0, 1);
        for (var i = 0; i < N; i++) x[i * D] += 3 * (i % K); // some structure to fit
        var data = new NdArray([N, D], x);
        Console.WriteLine($"GMM EM iteration, {N} × {D}, K = {K} (median of 9 after 2 warm-ups)");
        var rows = new List<(CovarianceType Type, double Median, double Torch, double Target, double Roofline)>();
        foreach (var (type, target, flops) in new[]
        {
            (CovarianceType.Diagonal, 30.0, 2.0 * 2 * N * D * K + 2.0 * 2 * N * D * K),      // E: x²·p, x·μp; M: rᵀx, rᵀx²
            // E: [x 1]·[Pₖ; −μₖPₖ] over P's upper triangle; M: the scatter's upper triangle; rᵀx
            (CovarianceType.Full, 300.0, 2.0 * N * K * (D * (D + 1) / 2 + D) + 2.0 * N * K * D * (D + 1) / 2 + 2.0 * N * D * K),
        })
        {
            var median = Median(data, type, cpuKernels: true);
            var torch = Median(data, type, cpuKernels: false);
            var bytes = (type == CovarianceType.Diagonal ? 4.0 : 2.0) * N * D * 4 + N * K * (4 * 8 + 3 * 4);
            var roofline = Math.Max(flops / (limits.SgemmGflops * 1e9), bytes / (limits.BandwidthGBs * 1e9)) * 1e3;
            rows.Add((type, median, torch, target, roofline));
        }
        // scikit-learn's EM on the same samples, after ours
        var peer = ScikitLearnPeer.PerIteration("gmm", data, ["diag", "full"]);
        foreach (var (type, median, torch, target, roofline) in rows)
        {
            var sklearn = peer.GetValueOrDefault(type == CovarianceType.Diagonal ? "diag" : "full", double.NaN);
            Console.WriteLine($"  {type,-8} {median,8:F1} ms per iteration (E + M)   target {target} ms ({median / target:F2} of it)   roofline {roofline:F1} ms   x roofline {median / roofline:F2}   scikit-learn {sklearn:F1} ms ({sklearn / median:F1}x ours)   TorchSharp operations {torch:F1} ms ({torch / median:F1}x the CPU kernels)");
        }
    }

    /// <summary>Median milliseconds of an EM iteration (9 after 2 warm-ups), on the CPU kernels or as TorchSharp operations.</summary>
    static double Median(NdArray data, CovarianceType type, bool cpuKernels)
    {
        var gmm = new GaussianMixture(K, type) { CpuKernels = cpuKernels };
        gmm.FitEm(data, new GmmEmOptions { MaxIterations = 1, Seed = 1 });
        var samples = gmm.Prepare(data, requireFitted: true);
        var r = new double[N * K];
        var times = new List<double>();
        for (var i = 0; i < 11; i++)
        {
            var clock = Stopwatch.StartNew();
            gmm.EmIteration(samples, r, 1e-6);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times.Skip(2).Order().ToList()[4];
    }
}
