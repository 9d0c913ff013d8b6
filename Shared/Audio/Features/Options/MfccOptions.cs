namespace Pipeline.Shared.Audio;

/// <summary>
/// MFCCs as librosa.feature.mfcc computes them: the orthonormal DCT-II of power_to_db(mel power spectrum, top_db 80),
/// the first n_mfcc coefficients. The mel settings are inherited; the power is always 2.
/// </summary>
public sealed record MfccOptions : MelSpectrogramOptions
{
    /// <summary>Coefficients kept, ≤ n_mels. Default 20.</summary>
    public int NMfcc { get; init; } = 20;

    /// <inheritdoc/>
    public override FeatureKind Feature => FeatureKind.Mfcc;

    /// <inheritdoc/>
    public override int FeaturesPerFrame => NMfcc;

    /// <inheritdoc/>
    protected override IEnumerable<string> FeatureProblems(bool framingValid)
    {
        var problems = base.FeatureProblems(framingValid).ToList();
        if (NMfcc < 1 || NMfcc > NMels) problems.Add($"n_mfcc must lie in [1, n_mels = {NMels}] (got {NMfcc})");
        if (Power != 2f) problems.Add($"MFCCs start from the power spectrum: power must be 2 (got {Power})");
        return problems;
    }

    /// <inheritdoc/>
    public bool Equals(MfccOptions? other) => base.Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => base.GetHashCode();
}
