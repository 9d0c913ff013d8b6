namespace Pipeline.Shared.Audio;

/// <summary>The STFT's magnitude (power 1) or power (power 2) per frame: n_fft/2 + 1 values.</summary>
public sealed record SpectrogramOptions : FrontEndConfig
{
    /// <summary>Exponent of |STFT|: 1 gives the magnitude, 2 the power. Default 1.</summary>
    public float Power { get; init; } = 1f;

    /// <inheritdoc/>
    public override FeatureKind Feature => Power == 2f ? FeatureKind.Power : FeatureKind.Magnitude;

    /// <inheritdoc/>
    public override int FeaturesPerFrame => NFft / 2 + 1;

    /// <inheritdoc/>
    protected override IEnumerable<string> FeatureProblems(bool framingValid) =>
        Power is 1f or 2f ? [] : [$"power must be 1 (magnitude) or 2 (power) (got {Power})"];

    /// <inheritdoc/>
    public bool Equals(SpectrogramOptions? other) => base.Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => base.GetHashCode();
}
