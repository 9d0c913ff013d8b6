using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Analysis windows.</summary>
public enum WindowKind
{
    /// <summary>Hann (scipy's "hann").</summary>
    Hann,
    /// <summary>Hamming, 0.54 − 0.46 cos.</summary>
    Hamming,
    /// <summary>Blackman, 0.42 − 0.5 cos + 0.08 cos 2.</summary>
    Blackman,
    /// <summary>All ones.</summary>
    Rectangular,
}

/// <summary>Window functions, as <c>scipy.signal.get_window</c> makes them.</summary>
public static class Window
{
    /// <summary>
    /// The window of <paramref name="length"/> samples. Periodic (librosa's and torch's choice for spectral
    /// analysis: the symmetric window of length + 1 without its last sample) or symmetric.
    /// </summary>
    public static float[] Create(WindowKind kind, int length, bool periodic = true)
    {
        if (length < 1) throw new InvalidOptionException($"window length must be ≥ 1, got {length}");
        var window = new float[length];
        if (length == 1) { window[0] = 1; return window; }
        var denominator = periodic ? length : length - 1;
        for (var n = 0; n < length; n++)
        {
            var x = 2 * Math.PI * n / denominator;
            window[n] = (float)(kind switch
            {
                WindowKind.Hann => 0.5 - 0.5 * Math.Cos(x),
                WindowKind.Hamming => 0.54 - 0.46 * Math.Cos(x),
                WindowKind.Blackman => 0.42 - 0.5 * Math.Cos(x) + 0.08 * Math.Cos(2 * x),
                _ => 1.0,
            });
        }
        return window;
    }
}
