using Pipeline.Shared.Arrays;

namespace Pipeline.Shared.Audio;

/// <summary>Mel-band energies of |STFT|^power per frame, as librosa.feature.melspectrogram: n_mels values.</summary>
public record MelSpectrogramOptions : FrontEndConfig
{
    /// <summary>Exponent of |STFT| fed to the mel filters (2: power, 1: magnitude). Default 2.</summary>
    public float Power { get; init; } = 2f;
    /// <summary>Mel bands, at most n_fft/2 + 1 (the frequency bins) and 4096. Default 64.</summary>
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

    /// <summary>Most mel bands a front end may name.</summary>
    public const int MaxNMels = 4096;
    /// <summary>Most weights a filter bank may hold (n_mels × (n_fft/2 + 1)): 2²⁶, 256 MB.</summary>
    public const long MaxFilterBankSize = 1 << 26;

    /// <inheritdoc/>
    /// <remarks>
    /// Includes more bands than frequency bins (some bands would always be empty) and a bank whose every band is empty
    /// (the band edges fall between bins): their features would be constant. A few empty bands among many are a
    /// warning (<see cref="Warnings"/>), as librosa gives one.
    /// </remarks>
    protected override IEnumerable<string> FeatureProblems(bool framingValid)
    {
        var problems = new List<string>();
        var bins = NFft / 2 + 1;
        if (NMels < 1 || NMels > MaxNMels) problems.Add($"n_mels must lie in [1, {MaxNMels}] (got {NMels})");
        else if (framingValid && NMels > bins)
            problems.Add($"n_mels {NMels} is more than the {bins} frequency bins of n_fft {NFft}, so at least {NMels - bins} bands would be empty; raise n_fft or lower n_mels");
        else if (framingValid && (long)NMels * bins > MaxFilterBankSize)
            problems.Add($"a filter bank of {NMels} bands over {bins} bins is more than {MaxFilterBankSize} weights; lower n_fft or n_mels");
        if (!(Power > 0) || !float.IsFinite(Power)) problems.Add($"power must be positive (got {Power})");
        if (!(FMin >= 0) || !double.IsFinite(FMin)) problems.Add($"fmin must be a frequency ≥ 0 Hz (got {FMin})");
        if (FMax is { } fmax && !(fmax > 0 && fmax <= SampleRate / 2.0))
            problems.Add(fmax > SampleRate / 2.0 ? $"fmax {fmax} Hz is above the Nyquist frequency {SampleRate / 2.0} Hz" : $"fmax must be a frequency > 0 Hz (got {fmax})");
        else if (framingValid && FMin >= 0 && (FMax ?? SampleRate / 2.0) <= FMin) problems.Add($"fmax {FMax ?? SampleRate / 2.0} Hz must exceed fmin {FMin} Hz");
        if (framingValid && problems.Count == 0 && FilterBank() is { } bank && bank.EmptyBands.Count == bank.Count)
            problems.Add($"all {bank.Count} mel bands are empty (at n_fft {NFft} and {SampleRate} Hz no frequency bin falls in them); raise n_fft or lower n_mels");
        return problems;
    }

    /// <summary>
    /// What the user should know about the settings, which does not stop the work: some (not all) bands are empty.
    /// <paramref name="bank"/>: these settings' <see cref="FilterBank"/>, when already built.
    /// </summary>
    public IReadOnlyList<string> Warnings(MelFilterBank? bank = null)
    {
        var empty = (bank ?? FilterBank()).EmptyBands;
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
