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
/// Triangular mel filters over the FFT bins, as <c>librosa.filters.mel</c> defines them, built by NWaves'
/// <c>FilterBanks</c> (<c>MelBankSlaney</c> for the Slaney scale; <c>Triangular</c> over <c>MelBands</c> for HTK's,
/// with <c>Normalize</c> for Slaney's area normalisation): n_mels + 2 points equally spaced in mel between fmin and
/// fmax, a triangle from each point to the next but one, with Slaney normalisation each triangle scaled to unit
/// area (2 / bandwidth in Hz).
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
        float[][] filters;
        if (scale == MelScale.Slaney) filters = NWaves.Filters.Fda.FilterBanks.MelBankSlaney(nMels, nFft, sampleRate, fmin, top, slaneyNorm);
        else
        {
            var bands = NWaves.Filters.Fda.FilterBanks.MelBands(nMels, sampleRate, fmin, top, overlap: true);
            filters = NWaves.Filters.Fda.FilterBanks.Triangular(nFft, sampleRate, bands);
            if (slaneyNorm) NWaves.Filters.Fda.FilterBanks.Normalize(nMels, bands, filters);
        }
        var weights = new float[nMels * bins];
        support = new (int, int)[nMels];
        for (var m = 0; m < nMels; m++)
        {
            filters[m].AsSpan(0, bins).CopyTo(weights.AsSpan(m * bins, bins));
            var start = Array.FindIndex(filters[m], 0, bins, w => w > 0);
            support[m] = start < 0 ? (0, 0) : (start, Array.FindLastIndex(filters[m], bins - 1, bins, w => w > 0) + 1);
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

    /// <summary>Hz to mel on the given scale: HTK's 2595·log10(1 + f/700) (NWaves' HTK scale is 1127·ln(1 + f/700),
    /// 5e-6 apart), or Slaney's (NWaves' <c>Scale.HerzToMelSlaney</c>).</summary>
    public static double HzToMel(double hz, MelScale scale) =>
        scale == MelScale.Htk ? 2595.0 * Math.Log10(1.0 + hz / 700.0) : NWaves.Utils.Scale.HerzToMelSlaney(hz);

    /// <summary>Mel to Hz on the given scale, the inverse of <see cref="HzToMel"/>.</summary>
    public static double MelToHz(double mel, MelScale scale) =>
        scale == MelScale.Htk ? 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0) : NWaves.Utils.Scale.MelToHerzSlaney(mel);
}
