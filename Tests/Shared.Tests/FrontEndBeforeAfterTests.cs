using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;

namespace Pipeline.Tests;

/// <summary>
/// Today's front end (NWaves' FFT, NAudio's reader) against the last one on FFTW and libsndfile, on a real recording:
/// the spoken "front center" of Debian's sound-theme-freedesktop, which ./run test installs. The fixtures were
/// computed by that older commit (Fixtures/make_frontend_before.sh) from the WAVs this test makes the same way.
/// </summary>
public class FrontEndBeforeAfterTests
{
    const string Speech = "/usr/share/sounds/freedesktop/stereo/audio-channel-front-center.oga";

    static NdArray Fixture(string name) => NpyFile.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    static NdArray Today(string preset, int rate, FrontEndConfig config)
    {
        Assert.True(File.Exists(Speech), $"{Speech} is missing; run ./run setup (it installs sound-theme-freedesktop)");
        var wav = Path.Combine(TestData.TempDirectory(), "speech.wav");
        TestData.Sox(Speech, "-e", "floating-point", "-b", "32", wav, "rate", "-v", rate.ToString());
        Assert.Equal(rate, FrontEndConfig.Preset(preset).SampleRate);
        return new FeatureExtractor(config).Extract(AudioFile.Read(wav));
    }

    /// <summary>
    /// Both FFTs work in float32, so they differ by rounding, about 1e-6 of the clip's peak power (measured ≤ 1.4e-6):
    /// within 1e-4 dB on every band within 30 dB of the peak (measured ≤ 2.5e-5 dB), more in quieter bands
    /// (7e-4 dB at 60 dB down), where that same absolute rounding is a larger part of the value.
    /// </summary>
    [Fact]
    public void LogMel_AgreesWithTheFftwFrontEndOnSpeech()
    {
        var before = Fixture("frontend_before_logmel.npy");
        var today = Today("dcase-logmel", 16000, FrontEndConfig.Preset("dcase-logmel") with { ContextBefore = 0, ContextAfter = 0 });
        Assert.Equal(before.Shape, today.Shape);
        var peak = before.Data.Max();
        double nearPeak = 0, power = 0;
        for (var i = 0; i < before.Data.Length; i++)
        {
            var (b, t) = (before.Data[i], today.Data[i]);
            if (b >= peak - 30) nearPeak = Math.Max(nearPeak, Math.Abs(b - t));
            power = Math.Max(power, Math.Abs(Math.Pow(10, b / 10.0) - Math.Pow(10, t / 10.0)));
        }
        Assert.True(nearPeak <= 1e-4, $"{nearPeak:G3} dB apart within 30 dB of the peak");
        Assert.True(power <= 1e-5 * Math.Pow(10, peak / 10.0), $"power {power / Math.Pow(10, peak / 10.0):G3} of the peak apart");
    }

    [Fact]
    public void Mel_AgreesWithTheFftwFrontEndOnSpeech()
    {
        var before = Fixture("frontend_before_mel.npy");
        var today = Today("librosa-mel", 22050, FrontEndConfig.Preset("librosa-mel"));
        Assert.Equal(before.Shape, today.Shape);
        Assert.True(TestData.MaxRelativeError(today.Data, before.Data) <= 1e-5, "mel energies apart by more than 1e-5 of the peak");
    }
}
