using System.Diagnostics;
using System.Globalization;
using Pipeline.Shared.Audio;

namespace Pipeline.Benchmarks;

/// <summary>
/// The audio front end on one thread: 64-band log-mel of a 10 s 16 kHz clip (n_fft 512, hop 160), |STFT| of
/// 30 s at 22 050 Hz (n_fft 2048, hop 512), and reading + resampling a 10 s 44.1 kHz WAV to 16 kHz. Each prints
/// the median time, its target, the real-time factor, and the FFT work's rate against the measured sgemm rate
/// (an upper bound no FFT reaches; the ratio shows how far from compute-bound the step is), and beside it the same
/// job done by numpy's FFT on one thread in the same run (<c>frontend_numpy.py</c>, Debian's python3-numpy).
/// </summary>
static class FrontEndBenchmark
{
    public static void Run(MachineLimits limits)
    {
        Console.WriteLine("front end (one thread, median of 21 runs after 3 warm-up)");
        var random = new Random(1);
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-bench");
        Directory.CreateDirectory(dir);
        var wav = Path.Combine(dir, "clip44k.wav");
        AudioFile.Write(wav, new AudioClip(Enumerable.Range(0, 441_000).Select(i => (float)(0.5 * Math.Sin(i * 0.05) + 0.1 * (random.NextDouble() - 0.5))).ToArray(), 44100));
        var numpy = NumpyPeer(wav);

        var clip16k = new AudioClip(Enumerable.Range(0, 160_000).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(), 16000);
        var logMel = new FeatureExtractor(new LogMelOptions());
        Report("log-mel 64, 10 s @ 16 kHz", 5, 10, Timing.Median(() => logMel.Extract(clip16k)), Flops(512, 1 + 160_000 / 160), numpy.GetValueOrDefault("log-mel"), limits);

        var clip22k = Enumerable.Range(0, 30 * 22050).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var stft = new Stft(2048, 512);
        Report("|STFT| n_fft 2048, 30 s @ 22.05 kHz", 45, 30, Timing.Median(() => stft.Magnitude(clip22k)), Flops(2048, 1 + clip22k.Length / 512), numpy.GetValueOrDefault("stft"), limits);

        var read = new AudioReadOptions { SampleRate = 16000 };
        Report("read + resample 10 s 44.1 → 16 kHz", 10, 10, Timing.Median(() => AudioFile.Read(wav, read)), 0, numpy.GetValueOrDefault("resample"), limits);
        File.Delete(wav);
    }

    static double Flops(int n, int frames) => 2.5 * n * Math.Log2(n) * frames; // real FFT ≈ half a complex one's 5 n log2 n

    /// <summary>
    /// The numpy peer's medians in ms by job ("log-mel", "stft", "resample"), empty (with a line saying why) when
    /// Debian's python3 with numpy cannot run it.
    /// </summary>
    static Dictionary<string, double> NumpyPeer(string wav) =>
        PythonPeer.Run("frontend_numpy.py", [wav], "numpy", "python3-numpy", environment => environment["OPENBLAS_NUM_THREADS"] = "1");

    static void Report(string what, double targetMs, double audioSeconds, double ms, double flops, double numpyMs, MachineLimits limits)
    {
        var rate = flops > 0 ? $"   FFT {flops / ms / 1e6:F1} GFLOP/s = {flops / ms / 1e6 / limits.SgemmGflops:P1} of sgemm" : "";
        var peer = numpyMs > 0 ? $"   numpy {numpyMs,6:F2} ms (ours / numpy {ms / numpyMs:F2})" : "";
        Console.WriteLine($"  {what,-38} {ms,7:F2} ms   target {targetMs} ms ({ms / targetMs:F2} of it)   {audioSeconds * 1000 / ms,6:F0}x real time{rate}{peer}");
    }
}
