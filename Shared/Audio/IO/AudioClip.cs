namespace Pipeline.Shared.Audio;

/// <summary>Mono (or multi-channel, interleaved) float samples in [−1, 1] and their sample rate.</summary>
/// <param name="Samples">Samples, interleaved by channel when <paramref name="Channels"/> &gt; 1.</param>
/// <param name="SampleRate">Samples per second per channel.</param>
/// <param name="Channels">Number of interleaved channels.</param>
public sealed record AudioClip(float[] Samples, int SampleRate, int Channels = 1)
{
    /// <summary>Samples per channel.</summary>
    public int Frames => Samples.Length / Channels;

    /// <summary>Length in seconds.</summary>
    public double Duration => (double)Frames / SampleRate;
}
