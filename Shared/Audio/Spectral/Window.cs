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

/// <summary>Window functions, as <c>scipy.signal.get_window</c> makes them, from NWaves' <c>Window.OfType</c>.</summary>
public static class Window
{
    /// <summary>
    /// The window of <paramref name="length"/> samples. Periodic (librosa's and torch's choice for spectral
    /// analysis: the symmetric window of length + 1 without its last sample) or symmetric.
    /// </summary>
    public static float[] Create(WindowKind kind, int length, bool periodic = true)
    {
        if (length < 1) throw new InvalidOptionException($"window length must be ≥ 1, got {length}");
        if (length == 1) return [1f];
        var type = kind switch
        {
            WindowKind.Hann => NWaves.Windows.WindowType.Hann,
            WindowKind.Hamming => NWaves.Windows.WindowType.Hamming,
            WindowKind.Blackman => NWaves.Windows.WindowType.Blackman,
            _ => NWaves.Windows.WindowType.Rectangular,
        };
        // NWaves' windows are symmetric
        return periodic ? NWaves.Windows.Window.OfType(type, length + 1)[..length] : NWaves.Windows.Window.OfType(type, length);
    }
}
