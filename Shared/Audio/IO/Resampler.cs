using NAudio.Dsp;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Sample-rate conversion with NAudio's WDL resampler (managed) in its windowed-sinc mode, 128 taps (256 give the same SNR against sox on
/// every tested pair at twice the cost). On sweeps and noise up to 80 % of the lower Nyquist frequency it agrees with <c>sox rate -v</c> to 72–90 dB SNR (44.1 → 16 kHz:
/// 90 dB; the tests hold each figure); nearer Nyquist the two filters' transition bands differ. The output
/// has ⌈n · out/in⌉ samples per channel, as librosa returns, aligned with the input (no filter delay).
/// </summary>
public static class Resampler
{
    const int SincTaps = 128, SincInterpolation = 32, Block = 4096;

    /// <summary>Resamples every channel of <paramref name="clip"/> to <paramref name="targetRate"/>.</summary>
    /// <exception cref="InvalidOptionException">A rate is not positive.</exception>
    public static AudioClip Resample(AudioClip clip, int targetRate)
    {
        if (targetRate <= 0) throw new InvalidOptionException($"target sample rate must be positive, got {targetRate}");
        if (clip.SampleRate <= 0) throw new InvalidOptionException($"the clip's sample rate must be positive, got {clip.SampleRate}");
        if (targetRate == clip.SampleRate) return clip;
        int channels = clip.Channels, frames = clip.Frames;
        var outFrames = (int)Math.Ceiling((double)frames * targetRate / clip.SampleRate);
        var output = new float[outFrames * channels];
        var resampler = new WdlResampler();
        resampler.SetMode(true, 0, true, SincTaps, SincInterpolation);
        resampler.SetFeedMode(true); // we say how much input goes in; it says how much output came out
        resampler.SetRates(clip.SampleRate, targetRate);
        // feed the clip, then silence until the filter has given every output sample
        int fed = 0, made = 0;
        while (made < outFrames)
        {
            var wanted = resampler.ResamplePrepare(Block, channels, out Span<float> input);
            var take = Math.Clamp(frames - fed, 0, wanted);
            clip.Samples.AsSpan(fed * channels, take * channels).CopyTo(input);
            input[(take * channels)..(wanted * channels)].Clear();
            fed += take;
            made += resampler.ResampleOut(output.AsSpan(made * channels), wanted, outFrames - made, channels);
        }
        return new AudioClip(output, targetRate, channels);
    }
}
