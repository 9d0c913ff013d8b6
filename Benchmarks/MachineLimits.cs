using System.Diagnostics;
using System.Numerics.Tensors;
using TorchSharp;

namespace Pipeline.Benchmarks;

/// <summary>This machine's ceilings, measured at start: sgemm FLOP rate and streaming memory bandwidth.</summary>
sealed record MachineLimits(double SgemmGflops, double BandwidthGBs)
{
    public static MachineLimits Measure()
    {
        // sgemm: square products large enough to reach BLAS's steady state, best of several runs, through LibTorch's BLAS,
        // which every product of the training side uses (so the rooflines are at the rate our code can reach).
        const int n = 2048;
        using var a = torch.tensor(Filled(n * n, 1), [n, n]);
        using var b = torch.tensor(Filled(n * n, 2), [n, n]);
        using var c = torch.empty(n, n);
        c.addmm_(a, b, beta: 0);
        var best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var t = Stopwatch.StartNew();
            c.addmm_(a, b, beta: 0);
            best = Math.Min(best, t.Elapsed.TotalSeconds);
        }
        var gflops = 2.0 * n * n * n / best / 1e9;

        // Bandwidth: a parallel triad-like pass (two streams read, one written) over arrays far larger than cache.
        const int m = 1 << 25;
        var x = Filled(m, 3); var y = Filled(m, 4); var z = new float[m];
        var blocks = Environment.ProcessorCount * 4;
        var bestBw = double.MaxValue;
        for (var i = 0; i < 6; i++)
        {
            var t = Stopwatch.StartNew();
            Parallel.For(0, blocks, k =>
            {
                var len = m / blocks;
                TensorPrimitives.Add(x.AsSpan(k * len, len), y.AsSpan(k * len, len), z.AsSpan(k * len, len));
            });
            bestBw = Math.Min(bestBw, t.Elapsed.TotalSeconds);
        }
        var bandwidth = 3.0 * 4 * m / bestBw / 1e9;
        return new MachineLimits(gflops, bandwidth);
    }

    static float[] Filled(int count, int seed)
    {
        var r = new Random(seed);
        var data = new float[count];
        for (var i = 0; i < data.Length; i++) data[i] = r.NextSingle();
        return data;
    }
}
