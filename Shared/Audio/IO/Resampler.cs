using Pipeline.Shared.Errors;
using Pipeline.Shared.Native;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Sample-rate conversion with libsoxr's high-quality recipe, the resampler librosa uses by default
/// (<c>soxr_hq</c>). The output has ⌈n · out/in⌉ samples per channel, as librosa returns.
/// </summary>
public static unsafe class Resampler
{
    /// <summary>Resamples every channel of <paramref name="clip"/> to <paramref name="targetRate"/>.</summary>
    public static AudioClip Resample(AudioClip clip, int targetRate)
    {
        if (targetRate <= 0) throw new InvalidOptionException($"target sample rate must be positive, got {targetRate}");
        if (targetRate == clip.SampleRate) return clip;
        var frames = clip.Frames;
        var outFrames = (int)Math.Ceiling((double)frames * targetRate / clip.SampleRate);
        var output = new float[outFrames * clip.Channels];
        var quality = Soxr.Quality(Soxr.HighQuality, 0);
        nuint inDone, outDone;
        IntPtr error;
        fixed (float* i = clip.Samples)
        fixed (float* o = output)
            error = Soxr.OneShot(clip.SampleRate, targetRate, (uint)clip.Channels, i, (nuint)frames, &inDone, o, (nuint)outFrames, &outDone,
                IntPtr.Zero, &quality, IntPtr.Zero);
        if (error != IntPtr.Zero)
            throw new InvalidInputException($"libsoxr could not resample {clip.SampleRate} Hz to {targetRate} Hz: {System.Runtime.InteropServices.Marshal.PtrToStringUTF8(error)}");
        // soxr may return a sample or two fewer than the ideal length; the remainder stays zero (as librosa pads).
        return new AudioClip(output, targetRate, clip.Channels);
    }
}
