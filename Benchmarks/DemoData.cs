using Pipeline.Shared.Arrays;

namespace Pipeline.Benchmarks;

/// <summary>
/// A small synthetic magnitude spectrogram for the demo: eight harmonic "notes" (fundamental and partials
/// with 1/n amplitudes, Gaussian in frequency) switched on and off with exponential decays. A training part and
/// a held-out part are written as .npy, with the true activations of the held-out part.
/// </summary>
static class DemoData
{
    const int Bins = 257, Notes = 8;

    public static void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(7);
        var templates = new float[Bins * Notes];
        for (var n = 0; n < Notes; n++)
        {
            var f0 = 8.0 + 3.0 * n;
            for (var partial = 1; f0 * partial < Bins - 2; partial++)
                for (var bin = 0; bin < Bins; bin++)
                {
                    var d = (bin - f0 * partial) / 0.8;
                    templates[bin * Notes + n] += (float)(Math.Exp(-0.5 * d * d) / partial);
                }
        }
        foreach (var (name, frames) in new[] { ("train", 600), ("test", 200) })
        {
            var activations = new float[Notes * frames];
            for (var n = 0; n < Notes; n++)
            {
                var level = 0.0;
                for (var t = 0; t < frames; t++)
                {
                    if (random.NextDouble() < 0.03) level = 0.5 + random.NextDouble();
                    activations[n * frames + t] = (float)level;
                    level *= 0.93;
                }
            }
            var v = new float[Bins * frames];
            for (var bin = 0; bin < Bins; bin++)
                for (var t = 0; t < frames; t++)
                {
                    double sum = 1e-4 * random.NextDouble();
                    for (var n = 0; n < Notes; n++) sum += templates[bin * Notes + n] * activations[n * frames + t];
                    v[bin * frames + t] = (float)sum;
                }
            NpyFile.Write(Path.Combine(directory, $"V_{name}.npy"), new NdArray([Bins, frames], v));
            NpyFile.Write(Path.Combine(directory, $"H_{name}_true.npy"), new NdArray([Notes, frames], activations));
        }
        Console.WriteLine($"wrote V_train.npy, V_test.npy and the true activations to {directory}");
    }
}
