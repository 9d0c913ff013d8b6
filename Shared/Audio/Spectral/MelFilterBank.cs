using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>The mel scale a filter bank's centre frequencies are spaced on.</summary>
public enum MelScale
{
    /// <summary>Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above (librosa's default).</summary>
    Slaney,
    /// <summary>HTK's 2595·log10(1 + f/700).</summary>
    Htk,
}

/// <summary>
/// Triangular mel filters over the FFT bins, built as <c>librosa.filters.mel</c> builds them (in double precision,
/// stored as float32): n_mels + 2 points equally spaced in mel between fmin and fmax, a triangle from each
/// point to the next but one, and with Slaney normalisation each triangle scaled to unit area (2 / bandwidth in Hz).
/// </summary>
public sealed class MelFilterBank
{
    /// <summary>Weights, (n_mels, n_fft/2 + 1).</summary>
    public NdArray Weights { get; }
    /// <summary>For each filter, the first and one-past-last bin with a non-zero weight.</summary>
    readonly (int Start, int End)[] support;

    /// <summary>Builds the bank; fmax defaults to sr/2.</summary>
    public MelFilterBank(int sampleRate, int nFft, int nMels, double fmin = 0, double? fmax = null, MelScale scale = MelScale.Slaney, bool slaneyNorm = true)
    {
        var top = fmax ?? sampleRate / 2.0;
        var problems = new List<string>();
        if (sampleRate <= 0) problems.Add($"sample rate must be positive (got {sampleRate})");
        if (nFft < 2) problems.Add($"n_fft must be ≥ 2 (got {nFft})");
        if (nMels < 1) problems.Add($"n_mels must be ≥ 1 (got {nMels})");
        if (fmin < 0) problems.Add($"fmin must be ≥ 0 (got {fmin})");
        if (top > sampleRate / 2.0) problems.Add($"fmax {top} Hz is above the Nyquist frequency {sampleRate / 2.0} Hz");
        if (top <= fmin) problems.Add($"fmax {top} Hz must exceed fmin {fmin} Hz");
        if (problems.Count > 0) throw new InvalidOptionException("mel filter bank: " + string.Join("; ", problems));

        var bins = nFft / 2 + 1;
        var fft = new double[bins];
        for (var k = 0; k < bins; k++) fft[k] = (double)sampleRate / 2 * k / (bins - 1);
        var (lo, hi) = (HzToMel(fmin, scale), HzToMel(top, scale));
        var points = new double[nMels + 2];
        for (var i = 0; i < points.Length; i++) points[i] = MelToHz(lo + (hi - lo) * i / (nMels + 1), scale);
        var weights = new float[nMels * bins];
        support = new (int, int)[nMels];
        for (var m = 0; m < nMels; m++)
        {
            double lower = points[m + 1] - points[m], upper = points[m + 2] - points[m + 1];
            var norm = slaneyNorm ? 2.0 / (points[m + 2] - points[m]) : 1.0;
            int start = bins, end = 0;
            for (var k = 0; k < bins; k++)
            {
                var rising = (fft[k] - points[m]) / lower;
                var falling = (points[m + 2] - fft[k]) / upper;
                var w = Math.Max(0, Math.Min(rising, falling)) * norm;
                weights[m * bins + k] = (float)w;
                if (w > 0) { start = Math.Min(start, k); end = k + 1; }
            }
            support[m] = (start, Math.Max(start, end));
        }
        Weights = new NdArray([nMels, bins], weights);
        EmptyBands = Enumerable.Range(0, nMels).Where(m => support[m].End == support[m].Start).ToArray();
    }

    /// <summary>Number of filters.</summary>
    public int Count => Weights.Rows;

    /// <summary>
    /// Filters that no FFT bin falls in (too many bands for the frequency resolution): their energies are always 0,
    /// their features constant. librosa warns about them too.
    /// </summary>
    public IReadOnlyList<int> EmptyBands { get; }

    /// <summary>Mel-band energies, (n_mels, frames), of a (bins, frames) spectrogram; only each filter's support is visited.</summary>
    public NdArray Apply(NdArray spectrogram)
    {
        var bins = Weights.Columns;
        if (spectrogram.Shape.Length != 2 || spectrogram.Rows != bins)
            throw new InvalidInputException($"mel filter bank for {bins} bins applied to a spectrogram of shape {spectrogram.ShapeText}");
        var frames = spectrogram.Columns;
        var result = new float[Count * frames];
        for (var m = 0; m < Count; m++)
        {
            var row = result.AsSpan(m * frames, frames);
            for (var k = support[m].Start; k < support[m].End; k++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(spectrogram.Data.AsSpan(k * frames, frames), Weights.Data[m * bins + k], row, row);
        }
        return new NdArray([Count, frames], result);
    }

    /// <summary>Hz to mel on the given scale.</summary>
    public static double HzToMel(double hz, MelScale scale)
    {
        if (scale == MelScale.Htk) return 2595.0 * Math.Log10(1.0 + hz / 700.0);
        const double step = 200.0 / 3, breakHz = 1000.0, breakMel = breakHz / step;
        var logStep = Math.Log(6.4) / 27.0;
        return hz >= breakHz ? breakMel + Math.Log(hz / breakHz) / logStep : hz / step;
    }

    /// <summary>Mel to Hz on the given scale.</summary>
    public static double MelToHz(double mel, MelScale scale)
    {
        if (scale == MelScale.Htk) return 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);
        const double step = 200.0 / 3, breakHz = 1000.0, breakMel = breakHz / step;
        var logStep = Math.Log(6.4) / 27.0;
        return mel >= breakMel ? breakHz * Math.Exp(logStep * (mel - breakMel)) : step * mel;
    }
}
