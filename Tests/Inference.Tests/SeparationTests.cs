using Pipeline.Inference.Decomposition;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

namespace Pipeline.Inference.Tests;

/// <summary>Two synthetic instruments, templates learned on each alone, separated from their mixture.</summary>
public class SeparationTests
{
    const int Rate = 8000;

    /// <summary>A note sequence of harmonic tones (pitches from <paramref name="pitches"/>, its own harmonic weights).</summary>
    public static float[] Instrument(double[] pitches, double[] harmonics, int seed, double seconds)
    {
        var random = new Random(seed);
        var n = (int)(seconds * Rate);
        var x = new float[n];
        var note = Rate / 4;
        for (var start = 0; start < n; start += note)
        {
            var f0 = pitches[random.Next(pitches.Length)];
            for (var i = 0; i < note && start + i < n; i++)
            {
                var t = (double)i / Rate;
                double s = 0;
                for (var h = 0; h < harmonics.Length; h++) s += harmonics[h] * Math.Sin(2 * Math.PI * f0 * (h + 1) * t);
                x[start + i] = (float)(0.2 * s * Math.Exp(-3 * t));
            }
        }
        return x;
    }

    static readonly double[] PitchesA = [220, 247], HarmonicsA = [1, 0.5, 0.25];
    static readonly double[] PitchesB = [330, 370, 415], HarmonicsB = [0.6, 0.1, 0.8, 0.05];

    static double Correlation(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }

    [Fact]
    public void Separate_RecoversEachInstrumentFromTheMixture()
    {
        var stft = FrontEndConfig.Preset("stft") with { SampleRate = Rate, NFft = 512, HopLength = 128 };
        var (model, sources) = SourceTemplates.Learn(
            [("low", new AudioClip(Instrument(PitchesA, HarmonicsA, 1, 3), Rate)), ("high", new AudioClip(Instrument(PitchesB, HarmonicsB, 2, 3), Rate))],
            stft, rankPerSource: 4, new NmfFitOptions { Beta = 1, MaxIterations = 200 });
        var dir = Path.Combine(TestData.TempDirectory(), "separation");
        NmfExport.Export(model, dir, "separation", beta: 1, iterations: 100, frontEnd: stft, sources: sources);

        var a = Instrument(PitchesA, HarmonicsA, 3, 2);
        var b = Instrument(PitchesB, HarmonicsB, 4, 2);
        var mixture = new AudioClip(a.Zip(b, (x, y) => x + y).ToArray(), Rate);
        using var separator = new SourceSeparator(dir);
        var separated = separator.Separate(mixture);
        Assert.Equal(["low", "high"], separated.Select(s => s.Name));
        Assert.True(Correlation(separated[0].Audio.Samples, a) > 0.8, $"low vs truth {Correlation(separated[0].Audio.Samples, a)}");
        Assert.True(Correlation(separated[1].Audio.Samples, b) > 0.8, $"high vs truth {Correlation(separated[1].Audio.Samples, b)}");
        Assert.True(Math.Abs(Correlation(separated[0].Audio.Samples, b)) < 0.3);
        // soft masks add up to one, so the separated sources add up to the mixture
        var sum = separated[0].Audio.Samples.Zip(separated[1].Audio.Samples, (x, y) => x + y).ToArray();
        Assert.True(TestData.MaxRelativeError(sum, mixture.Samples) < 1e-3);

        // finite samples near float32's limit overflow the spectrum: an error naming the recording, not "V holds NaN"
        var loud = new AudioClip(mixture.Samples.Select(x => x * 3e38f).ToArray(), Rate);
        var e = Assert.Throws<InvalidAudioException>(() => separator.Separate(loud, "loud.wav"));
        Assert.StartsWith("loud.wav: its spectrum overflows float32", e.Message);
    }

    [Fact]
    public void Separator_RefusesModelsWithoutSources()
    {
        var (v, _, _) = TestData.Planted(20, 30, 3, 1);
        var nmf = new Nmf(3, 0);
        nmf.Fit(v);
        var dir = Path.Combine(TestData.TempDirectory(), "plain");
        NmfExport.Export(nmf, dir, "plain", 1, 10);
        Assert.Throws<ModelContractException>(() => new SourceSeparator(dir));
    }
}
