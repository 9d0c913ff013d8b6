namespace Pipeline.Shared.Audio;

/// <summary>
/// The mel-cepstrum c₀ … c_M of each windowed frame of n_fft samples, as SPTK's <c>mcep</c> computes it:
/// order + 1 values, or order without c₀.
/// </summary>
public sealed record MelCepstrumOptions : FrontEndConfig
{
    /// <summary>Order M, in [1, n_fft/2]. Default 39.</summary>
    public int Order { get; init; } = 39;
    /// <summary>All-pass constant α, in (−1, 1); 0.42 approximates the mel scale at 16 kHz. Default 0.42.</summary>
    public double Alpha { get; init; } = 0.42;
    /// <summary>Drop c₀ (the frame's gain), as the mel-cepstrum VAE recipe does. Default true.</summary>
    public bool DropC0 { get; init; } = true;

    /// <inheritdoc/>
    public override FeatureKind Feature => FeatureKind.MelCepstrum;

    /// <inheritdoc/>
    public override int FeaturesPerFrame => Order + (DropC0 ? 0 : 1);

    /// <inheritdoc/>
    protected override IEnumerable<string> FeatureProblems(bool framingValid)
    {
        var problems = new List<string>();
        if (NFft < 4 || (NFft & (NFft - 1)) != 0) problems.Add($"the mel-cepstrum needs n_fft to be a power of two (got {NFft})");
        if (Order < 1 || Order > NFft / 2) problems.Add($"cepstrum order must lie in [1, n_fft/2] (got {Order})");
        if (!(Math.Abs(Alpha) < 1)) problems.Add($"α must lie in (−1, 1) (got {Alpha})");
        return problems;
    }

    /// <inheritdoc/>
    public bool Equals(MelCepstrumOptions? other) => base.Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => base.GetHashCode();
}
