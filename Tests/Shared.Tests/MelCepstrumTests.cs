using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Tests;

public class MelCepstrumTests
{
    static NdArray Fixture(string name) => NpyFile.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    /// <summary>
    /// Eight windowed frames (noise, an AR process, two synthetic vowels, tones, a quiet frame, a chirp, brown
    /// noise) against Debian's sptk 3.9 `mcep -l 1024 -m 39 -a 0.42 -e 1e-8` (Fixtures/make_sptk_mcep.sh).
    /// Both run the same iteration in double precision and stop on the same test of r(0), so they differ only
    /// by rounding, the float32 storage of frames and results, and the linear solver (SPTK's Toeplitz-plus-Hankel
    /// recursion, Gaussian elimination here): 1e-5 of each frame's largest coefficient covers all of it (they agree to 1e-6).
    /// </summary>
    [Fact]
    public void Analyze_MatchesSptkMcep()
    {
        var frames = Fixture("sptk_mcep_frames.npy");
        var expected = Fixture("sptk_mcep.npy");
        var analysis = new MelCepstrum(order: 39, alpha: 0.42, frameLength: 1024) { Floor = 1e-8 };
        for (var f = 0; f < frames.Rows; f++)
        {
            var c = analysis.Analyze(frames.Data.AsSpan(f * 1024, 1024));
            var scale = 0.0;
            for (var k = 0; k < 40; k++) scale = Math.Max(scale, Math.Abs(expected[f, k]));
            for (var k = 0; k < 40; k++)
                Assert.True(Math.Abs(c[k] - expected[f, k]) <= 1e-5 * scale,
                    $"frame {f}, c{k}: {c[k]:G6} here, {expected[f, k]:G6} from sptk");
        }
    }

    [Fact]
    public void Warp_WithZeroAlpha_IsTheIdentity_AndInvertsWithMinusAlpha()
    {
        double[] c = [0.5, -0.3, 0.2, 0.1, -0.05, 0.02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(c[..6], MelCepstrum.Warp(c, 5, 5, 0.0));
        // warping to a long sequence and back recovers the coefficients (the all-pass map is invertible)
        var warped = MelCepstrum.Warp(c, 5, 200, 0.42);
        var back = MelCepstrum.Warp(warped, 200, 5, -0.42);
        for (var k = 0; k <= 5; k++) Assert.Equal(c[k], back[k], 1e-9);
    }

    [Fact]
    public void Options_AreValidated()
    {
        var e = Assert.Throws<InvalidOptionException>(() => new MelCepstrum(0, 1.2, 1000));
        Assert.Contains("order", e.Message);
        Assert.Contains("α", e.Message);
        Assert.Contains("power of two", e.Message);
        Assert.Throws<InvalidInputException>(() => new MelCepstrum(10, 0.42, 256).Analyze(new float[128]));
    }
}
