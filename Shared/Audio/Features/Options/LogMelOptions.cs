namespace Pipeline.Shared.Audio;

/// <summary>
/// The log-mel of the DCASE baseline: 20/power · log10(mel + floor) per band (10·log10 for power 2), n_mels values.
/// </summary>
public sealed record LogMelOptions : MelSpectrogramOptions
{
    /// <summary>Added before the logarithm. Default float64's machine epsilon, 2.22e-16, as the DCASE baseline.</summary>
    public double LogFloor { get; init; } = 2.220446049250313e-16;

    /// <inheritdoc/>
    public override FeatureKind Feature => FeatureKind.LogMel;

    /// <inheritdoc/>
    protected override IEnumerable<string> FeatureProblems(bool framingValid) =>
        LogFloor > 0 ? base.FeatureProblems(framingValid) : base.FeatureProblems(framingValid).Append($"the log floor must be positive (got {LogFloor})");

    /// <inheritdoc/>
    public bool Equals(LogMelOptions? other) => base.Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => base.GetHashCode();
}
