using Pipeline.Shared.Arrays;

namespace Pipeline.Shared.Audio;

/// <summary>Mel-band energies of |STFT|^power per frame, as librosa.feature.melspectrogram: n_mels values.</summary>
public record MelSpectrogramOptions : FrontEndConfig
{
    /// <summary>Exponent of |STFT| fed to the mel filters (2: power, 1: magnitude). Default 2.</summary>
    public float Power { get; init; } = 2f;
    /// <summary>Mel bands. Default 64.</summary>
    public int NMels { get; init; } = 64;
    /// <summary>Lowest filter edge in Hz. Default 0.</summary>
    public double FMin { get; init; }
    /// <summary>Highest filter edge in Hz, ≤ sr/2. Default null: sr/2.</summary>
    public double? FMax { get; init; }
    /// <summary>Mel scale. Default Slaney (librosa's htk=False).</summary>
    public MelScale MelScale { get; init; } = MelScale.Slaney;
    /// <summary>Scale each filter to unit area (librosa's norm="slaney"). Default true.</summary>
    public bool SlaneyNorm { get; init; } = true;

    /// <inheritdoc/>
    public override FeatureKind Feature => FeatureKind.Mel;

    /// <inheritdoc/>
    public override int FeaturesPerFrame => NMels;

    /// <summary>The filter bank these settings give.</summary>
    public MelFilterBank FilterBank() => new(SampleRate, NFft, NMels, FMin, FMax, MelScale, SlaneyNorm);

    /// <inheritdoc/>
    /// <remarks>Includes a bank whose every band is empty (n_fft too small for n_mels): its features would all be the floor.</remarks>
    public override IEnumerable<string> Problems()
    {
        var problems = base.Problems().ToList();
        if (NMels < 1) problems.Add($"n_mels must be ≥ 1 (got {NMels})");
        if (!(Power > 0)) problems.Add($"power must be positive (got {Power})");
        if (FMin < 0) problems.Add($"fmin must be ≥ 0 (got {FMin})");
        if (FMax is { } fmax && fmax > SampleRate / 2.0) problems.Add($"fmax {fmax} Hz is above the Nyquist frequency {SampleRate / 2.0} Hz");
        if ((FMax ?? SampleRate / 2.0) <= FMin) problems.Add($"fmax must exceed fmin {FMin} Hz");
        if (problems.Count == 0 && FilterBank() is { } bank && bank.EmptyBands.Count == bank.Count)
            problems.Add($"all {bank.Count} mel bands are empty (at n_fft {NFft} and {SampleRate} Hz no frequency bin falls in them); raise n_fft or lower n_mels");
        return problems;
    }

    /// <summary>
    /// What the user should know about the settings, which does not stop the work: some (not all) bands are empty.
    /// </summary>
    public IReadOnlyList<string> Warnings()
    {
        var empty = FilterBank().EmptyBands;
        if (empty.Count == 0) return [];
        var one = empty.Count == 1;
        return [$"mel {(one ? "band" : "bands")} {IndexRanges.Format(empty)} of {NMels} {(one ? "is" : "are")} empty (at n_fft {NFft} and {SampleRate} Hz no frequency bin falls in {(one ? "it" : "them")}), so {(one ? "its feature is" : "their features are")} constant; raise n_fft or lower n_mels"];
    }

    /// <inheritdoc/>
    public override FrontEndConfig Canonical() => ((MelSpectrogramOptions)base.Canonical()) with { FMax = FMax ?? SampleRate / 2.0 };

    /// <inheritdoc/>
    public virtual bool Equals(MelSpectrogramOptions? other) => base.Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => base.GetHashCode();
}
