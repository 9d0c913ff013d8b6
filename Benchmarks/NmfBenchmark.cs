using System.Diagnostics;
using Pipeline.Training.Decomposition;
using TorchSharp;
using Pipeline.Training.Trainers;

namespace Pipeline.Benchmarks;

/// <summary>
/// Median time of one multiplicative-update iteration (H step then W step) of NMF on V 1025 × 5168 with
/// rank 88, the size torchnmf publishes per-iteration times for, for β = 2, 1 and 0, beside the roofline:
/// the iteration's GEMM FLOPs at the measured sgemm rate, or its unavoidable memory traffic (V read once per
/// step) at the measured bandwidth, whichever is longer.
/// </summary>
static class NmfBenchmark
{
    const int F = 1025, T = 5168, K = 88;

    public static void Run(MachineLimits limits)
    {
        var random = new Random(1);
        var v = new float[F * T];
        for (var i = 0; i < v.Length; i++) v[i] = 0.01f + random.NextSingle();
        Console.WriteLine($"NMF multiplicative updates, V {F} × {T}, rank {K} (median of 10 iterations after 2 warm-up)");
        var rows = new List<(double Beta, double Median, double Module, double Target, double Roofline, double Flops)>();
        foreach (var (beta, target) in new[] { (2.0, 20.0), (1.0, 45.0), (0.0, 60.0) })
        {
            var median = Median(v, beta, fused: true, random);
            var module = Median(v, beta, fused: false, random);
            var flops = Flops(beta);
            var bytes = 2.0 * 4 * F * T;
            var roofline = Math.Max(flops / (limits.SgemmGflops * 1e9), bytes / (limits.BandwidthGBs * 1e9)) * 1e3;
            rows.Add((beta, median, module, target, roofline, flops));
        }
        // scikit-learn's MU solver on the same V, after ours, so the two never share the cores
        var betas = rows.Select(r => r.Beta.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var peer = ScikitLearnPeer.PerIteration("nmf", new Pipeline.Shared.Arrays.NdArray([F, T], v), betas);
        var peer64 = ScikitLearnPeer.PerIteration("nmf64", new Pipeline.Shared.Arrays.NdArray([F, T], v), betas);
        Console.WriteLine($"{"beta",5} {"ms/iter",9} {"target",8} {"roofline",9} {"x roofline",11} {"GFLOP/s",8} {"BetaMu",8} {"x fused",8} {"sklearn",9} {"x faster",9} {"f64",8} {"x faster",9}");
        foreach (var (beta, median, module, target, roofline, flops) in rows)
        {
            var key = beta.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var (sklearn, sklearn64) = (peer.GetValueOrDefault(key, double.NaN), peer64.GetValueOrDefault(key, double.NaN));
            Console.WriteLine($"{beta,5} {median,9:F1} {target,8:F0} {roofline,9:F1} {median / roofline,11:F2} {flops / median / 1e6,8:F0} {module,8:F1} {module / median,8:F2} {sklearn,9:F1} {sklearn / median,9:F2} {sklearn64,8:F1} {sklearn64 / median,9:F2}");
        }
        Console.WriteLine("  ms/iter: the fused CPU kernels; BetaMu: the same step as TorchSharp operations and autograd (x fused: how much slower);");
        Console.WriteLine("  sklearn: scikit-learn's MU solver on the same float32 V; f64: on V in float64");
    }

    /// <summary>FLOPs of the GEMMs one iteration must do for β (the element-wise work is not counted).</summary>
    static double Flops(double beta)
    {
        double big = 2.0 * F * K * T, smallH = 2.0 * K * K * (F + T), smallW = 2.0 * K * K * (T + F);
        return beta switch
        {
            2 => 2 * big + smallH + smallW,  // WᵀV, V·Hᵀ, and the K×K Gram products
            1 => 4 * big,                   // W·H and Wᵀ(·) per step
            _ => 6 * big,                   // W·H, and Wᵀ[X | Y] (twice the width) per step
        };
    }

    /// <summary>Median milliseconds of an iteration (H step, W step) on the fused kernels or on BetaMu's step.</summary>
    static double Median(float[] v, double beta, bool fused, Random random)
    {
        using var vt = torch.tensor(v, [F, T]).t().contiguous();
        using var w = torch.tensor(Positive(F * K, random), [F, K]);
        using var h = torch.tensor(Positive(T * K, random), [T, K]);
        using var model = new NmfComponent([T, F], K, w: w, h: h);
        using IMultiplicativeUpdates updates = fused
            ? new MultiplicativeUpdates(vt, model, beta, BetaDivergence.DefaultEpsilon, 0, 0)
            : new ModuleMultiplicativeUpdates(vt, model, beta, BetaDivergence.DefaultEpsilon, 0, 0);
        for (var i = 0; i < 2; i++) { updates.UpdateH(); updates.UpdateW(); }
        var times = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            var t = Stopwatch.StartNew();
            updates.UpdateH();
            updates.UpdateW();
            times.Add(t.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (times[4] + times[5]) / 2;
    }

    static float[] Positive(int count, Random random)
    {
        var data = new float[count];
        for (var i = 0; i < count; i++) data[i] = 0.01f + random.NextSingle();
        return data;
    }
}
