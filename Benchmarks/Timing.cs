using System.Diagnostics;

namespace Pipeline.Benchmarks;

/// <summary>How the latency benchmarks time one call.</summary>
static class Timing
{
    /// <summary>Median wall time of 21 calls of <paramref name="work"/>, in ms, after 3 untimed ones.</summary>
    public static double Median(Action work)
    {
        for (var i = 0; i < 3; i++) work();
        var times = new List<double>();
        for (var i = 0; i < 21; i++)
        {
            var clock = Stopwatch.StartNew();
            work();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[10];
    }
}
