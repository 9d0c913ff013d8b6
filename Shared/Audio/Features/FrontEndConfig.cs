using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>What a front end computes per frame.</summary>
public enum FeatureKind
{
    /// <summary>|STFT|, n_fft/2 + 1 values.</summary>
    Magnitude,
    /// <summary>|STFT|², n_fft/2 + 1 values.</summary>
    Power,
    /// <summary>Mel-band energies of |STFT|^power.</summary>
    Mel,
    /// <summary>20/power · log10(mel + logFloor): the DCASE baseline's log-mel (10·log10 for power 2).</summary>
    LogMel,
    /// <summary>Orthonormal DCT-II of power_to_db(mel power spectrum, top_db 80), as librosa.feature.mfcc.</summary>
    Mfcc,
    /// <summary>Mel-cepstrum c₀ … c_M of each windowed frame (SPTK's mcep; frame length n_fft).</summary>
    MelCepstrum,
}

/// <summary>
/// Everything that decides the features, in one immutable record that goes into a model's manifest, so that
/// Inference recomputes exactly what Training saw. Presets carry the seeds' recipes
/// (<see cref="Preset"/>: <c>dcase-logmel</c>, <c>vae-mcep</c>, <c>librosa-mel</c>, <c>librosa-mfcc</c>, <c>stft</c>).
/// Two configs are <see cref="Equals(FrontEndConfig?)"/> when they produce identical features: settings that
/// the chosen feature ignores, and defaults written out explicitly, do not make them differ.
/// </summary>
public sealed record FrontEndConfig
{
    /// <summary>Audio is resampled to this rate before analysis.</summary>
    public int SampleRate { get; init; } = 16000;
    /// <summary>FFT size (the frame length for the mel-cepstrum, a power of two there).</summary>
    public int NFft { get; init; } = 512;
    /// <summary>Samples between frames.</summary>
    public int HopLength { get; init; } = 160;
    /// <summary>Window length; null means n_fft.</summary>
    public int? WinLength { get; init; }
    /// <summary>Analysis window (periodic).</summary>
    public WindowKind Window { get; init; } = WindowKind.Hann;
    /// <summary>Centre frames on hop multiples, padding n_fft/2 at the ends.</summary>
    public bool Center { get; init; } = true;
    /// <summary>How the ends are padded when centring.</summary>
    public PadMode PadMode { get; init; } = PadMode.Constant;
    /// <summary>What is computed.</summary>
    public FeatureKind Feature { get; init; } = FeatureKind.LogMel;
    /// <summary>Exponent of |STFT| fed to the mel filters (2: power, 1: magnitude).</summary>
    public float Power { get; init; } = 2f;
    /// <summary>Mel bands.</summary>
    public int NMels { get; init; } = 64;
    /// <summary>Lowest filter edge in Hz.</summary>
    public double FMin { get; init; }
    /// <summary>Highest filter edge in Hz; null means sr/2.</summary>
    public double? FMax { get; init; }
    /// <summary>Mel scale.</summary>
    public MelScale MelScale { get; init; } = MelScale.Slaney;
    /// <summary>Scale each mel filter to unit area (librosa's norm="slaney").</summary>
    public bool SlaneyNorm { get; init; } = true;
    /// <summary>Added before the logarithm of <see cref="FeatureKind.LogMel"/> (the DCASE baseline uses float64's epsilon).</summary>
    public double LogFloor { get; init; } = 2.220446049250313e-16;
    /// <summary>MFCCs kept.</summary>
    public int NMfcc { get; init; } = 20;
    /// <summary>Mel-cepstrum order M.</summary>
    public int CepstrumOrder { get; init; } = 39;
    /// <summary>All-pass constant α of the mel-cepstrum.</summary>
    public double Alpha { get; init; } = 0.42;
    /// <summary>Drop c₀ (the frame's gain) from the mel-cepstrum, as the mel-cepstrum VAE recipe does.</summary>
    public bool DropC0 { get; init; } = true;
    /// <summary>Frames of context before each frame (the DCASE baseline: 10); 0 with <see cref="ContextAfter"/> 0 means no stacking.</summary>
    public int ContextBefore { get; init; }
    /// <summary>Frames of context after (and including) each frame's own position.</summary>
    public int ContextAfter { get; init; }

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["dcase-logmel", "vae-mcep", "librosa-mel", "librosa-mfcc", "stft"];

    /// <summary>
    /// A named recipe. <c>dcase-logmel</c>: the DCASE 2020 Task 2 baseline (16 kHz, n_fft 512, hop 160, 64 mel bands, log-mel, 10 + 10
    /// context frames → 1280 values). <c>vae-mcep</c>: the mel-cepstrum VAE recipe (16 kHz, 1024-sample Blackman frames, hop 160,
    /// α 0.42, order 39, c₀ dropped → 39 values). <c>librosa-mel</c> and <c>librosa-mfcc</c>: librosa's defaults at
    /// 22 050 Hz. <c>stft</c>: the magnitude spectrogram used by the decomposition models.
    /// </summary>
    public static FrontEndConfig Preset(string name) => name switch
    {
        "dcase-logmel" => new FrontEndConfig { ContextBefore = 10, ContextAfter = 10 },
        "vae-mcep" => new FrontEndConfig { NFft = 1024, Window = WindowKind.Blackman, Feature = FeatureKind.MelCepstrum },
        "librosa-mel" => new FrontEndConfig { SampleRate = 22050, NFft = 2048, HopLength = 512, NMels = 128, Feature = FeatureKind.Mel },
        "librosa-mfcc" => new FrontEndConfig { SampleRate = 22050, NFft = 2048, HopLength = 512, NMels = 128, Feature = FeatureKind.Mfcc },
        "stft" => new FrontEndConfig { SampleRate = 22050, NFft = 2048, HopLength = 512, Feature = FeatureKind.Magnitude },
        _ => throw new InvalidOptionException($"unknown front-end preset '{name}'; known: {string.Join(", ", PresetNames)}"),
    };

    /// <summary>Values per frame (after context stacking).</summary>
    public int Dimensions
    {
        get
        {
            var perFrame = Feature switch
            {
                FeatureKind.Magnitude or FeatureKind.Power => NFft / 2 + 1,
                FeatureKind.Mel or FeatureKind.LogMel => NMels,
                FeatureKind.Mfcc => NMfcc,
                _ => CepstrumOrder + (DropC0 ? 0 : 1),
            };
            var width = ContextBefore + ContextAfter;
            return width == 0 ? perFrame : perFrame * width;
        }
    }

    /// <summary>
    /// The fewest frames a clip must give: the larger context side (mirrored context needs that many real frames), or one.
    /// </summary>
    public int MinimumFrames => Math.Max(1, Math.Max(ContextBefore, ContextAfter));

    /// <summary>
    /// The shortest clip accepted, in samples at <see cref="SampleRate"/>: centred frames give 1 + ⌊n / hop⌋ frames,
    /// uncentred ones 1 + ⌊(n − n_fft) / hop⌋.
    /// </summary>
    public int MinimumSamples => Center ? Math.Max(1, (MinimumFrames - 1) * HopLength) : NFft + (MinimumFrames - 1) * HopLength;

    /// <summary>Every problem with the settings at once, as an <see cref="InvalidOptionException"/>; returns this when there is none.</summary>
    public FrontEndConfig Validate()
    {
        var problems = new List<string>();
        var win = WinLength ?? NFft;
        if (SampleRate <= 0) problems.Add($"sample rate must be positive (got {SampleRate})");
        if (NFft < 2) problems.Add($"n_fft must be ≥ 2 (got {NFft})");
        if (HopLength <= 0) problems.Add($"hop_length must be > 0 (got {HopLength})");
        if (win < 1 || win > NFft) problems.Add($"win_length {win} must lie in [1, n_fft = {NFft}]");
        if (Feature is FeatureKind.Mel or FeatureKind.LogMel or FeatureKind.Mfcc)
        {
            if (NMels < 1) problems.Add($"n_mels must be ≥ 1 (got {NMels})");
            if (!(Power > 0)) problems.Add($"power must be positive (got {Power})");
            if (FMin < 0) problems.Add($"fmin must be ≥ 0 (got {FMin})");
            if (FMax is { } fmax && fmax > SampleRate / 2.0) problems.Add($"fmax {fmax} Hz is above the Nyquist frequency {SampleRate / 2.0} Hz");
            if ((FMax ?? SampleRate / 2.0) <= FMin) problems.Add($"fmax must exceed fmin {FMin} Hz");
        }
        if (Feature == FeatureKind.LogMel && !(LogFloor > 0)) problems.Add($"the log floor must be positive (got {LogFloor})");
        if (Feature == FeatureKind.Mfcc && (NMfcc < 1 || NMfcc > NMels)) problems.Add($"n_mfcc must lie in [1, n_mels = {NMels}] (got {NMfcc})");
        if (Feature == FeatureKind.MelCepstrum)
        {
            if (NFft < 4 || (NFft & (NFft - 1)) != 0) problems.Add($"the mel-cepstrum needs n_fft to be a power of two (got {NFft})");
            if (CepstrumOrder < 1 || CepstrumOrder > NFft / 2) problems.Add($"cepstrum order must lie in [1, n_fft/2] (got {CepstrumOrder})");
            if (!(Math.Abs(Alpha) < 1)) problems.Add($"α must lie in (−1, 1) (got {Alpha})");
        }
        if (ContextBefore < 0 || ContextAfter < 0) problems.Add($"context sizes must be ≥ 0 (got {ContextBefore}, {ContextAfter})");
        if (problems.Count > 0) throw new InvalidOptionException("front end: " + string.Join("; ", problems));
        return this;
    }

    /// <summary>The same features with every ignored setting at its default and every implicit default written out.</summary>
    public FrontEndConfig Canonical()
    {
        var reference = new FrontEndConfig();
        var c = this with { WinLength = WinLength ?? NFft, PadMode = Center ? PadMode : PadMode.Constant };
        var usesMel = Feature is FeatureKind.Mel or FeatureKind.LogMel or FeatureKind.Mfcc;
        if (usesMel) c = c with { FMax = FMax ?? SampleRate / 2.0 };
        else c = c with { Power = reference.Power, NMels = reference.NMels, FMin = 0, FMax = null, MelScale = reference.MelScale, SlaneyNorm = reference.SlaneyNorm };
        if (Feature != FeatureKind.LogMel) c = c with { LogFloor = reference.LogFloor };
        if (Feature != FeatureKind.Mfcc) c = c with { NMfcc = reference.NMfcc };
        if (Feature == FeatureKind.Mfcc) c = c with { Power = 2f }; // librosa's MFCC always starts from the power spectrum
        if (Feature != FeatureKind.MelCepstrum) c = c with { CepstrumOrder = reference.CepstrumOrder, Alpha = reference.Alpha, DropC0 = reference.DropC0 };
        return c;
    }

    /// <summary>True when both configs produce identical features.</summary>
    public bool Equals(FrontEndConfig? other) => other is not null && Canonical().ToJson() == other.Canonical().ToJson();

    /// <inheritdoc/>
    public override int GetHashCode() => Canonical().ToJson().GetHashCode(StringComparison.Ordinal);

    /// <summary>Compact JSON (enums by name).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FrontEndJsonContext.Default.FrontEndConfig);

    /// <summary>Parses <see cref="ToJson"/>'s output and validates it.</summary>
    public static FrontEndConfig FromJson(string json)
    {
        try { return (JsonSerializer.Deserialize(json, FrontEndJsonContext.Default.FrontEndConfig) ?? throw new JsonException("null")).Validate(); }
        catch (JsonException e) { throw new InvalidOptionException($"front-end configuration is not valid JSON: {e.Message}"); }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(FrontEndConfig))]
internal sealed partial class FrontEndJsonContext : JsonSerializerContext;
