using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// A front end's settings, as NWaves shapes its feature options: one record per feature
/// (<see cref="SpectrogramOptions"/>, <see cref="MelSpectrogramOptions"/>, <see cref="LogMelOptions"/>,
/// <see cref="MfccOptions"/>, <see cref="MelCepstrumOptions"/>), each holding only what its feature uses, with its
/// defaults in each setting's summary and a <see cref="Validate"/> that lists every problem at once. This base
/// holds the framing every feature shares. A config goes into a model's manifest (flat JSON, <see cref="ToJson"/>),
/// so that Inference recomputes exactly what Training saw; <see cref="Preset"/> gives the named recipes. Two configs
/// are equal when they give identical features (an implicit default and the same value written out do not differ).
/// </summary>
[JsonConverter(typeof(FrontEndConfigJsonConverter))]
public abstract record FrontEndConfig
{
    /// <summary>Highest sample rate a front end may name: 768 kHz.</summary>
    public const int MaxSampleRate = 768_000;
    /// <summary>Largest FFT a front end may name: 2²⁰ points.</summary>
    public const int MaxNFft = 1 << 20;
    /// <summary>Most context frames on one side.</summary>
    public const int MaxContext = 4096;
    /// <summary>Most values per frame after context stacking: 2²⁴.</summary>
    public const int MaxDimensions = 1 << 24;

    /// <summary>Audio is resampled to this rate (Hz) before analysis, ≤ 768 kHz. Default 16 000.</summary>
    public int SampleRate { get; init; } = 16000;
    /// <summary>FFT size in samples (the frame length of the mel-cepstrum), ≤ 2²⁰; a clip needs at least this many samples. Default 512.</summary>
    public int NFft { get; init; } = 512;
    /// <summary>Samples between frames. Default 160.</summary>
    public int HopLength { get; init; } = 160;
    /// <summary>Window length in samples, ≤ n_fft, centred in the frame. Default null: n_fft.</summary>
    public int? WinLength { get; init; }
    /// <summary>Analysis window (periodic). Default Hann.</summary>
    public WindowKind Window { get; init; } = WindowKind.Hann;
    /// <summary>Centre frame t on sample t·hop, padding n_fft/2 at the ends (librosa's center=True). Default true.</summary>
    public bool Center { get; init; } = true;
    /// <summary>How the ends are padded when centring. Default constant (zeros), as librosa ≥ 0.10.</summary>
    public PadMode PadMode { get; init; } = PadMode.Constant;
    /// <summary>Frames of mirrored context stacked before each frame (the DCASE baseline: 10), ≤ 4096. Default 0.</summary>
    public int ContextBefore { get; init; }
    /// <summary>Frames of context after (and including) each frame's own position; 0 with <see cref="ContextBefore"/> 0: no stacking. Default 0.</summary>
    public int ContextAfter { get; init; }

    /// <summary>What this record's feature is.</summary>
    [JsonIgnore]
    public abstract FeatureKind Feature { get; }

    /// <summary>Values per frame before context stacking.</summary>
    [JsonIgnore]
    public abstract int FeaturesPerFrame { get; }

    /// <summary>Values per frame (after context stacking).</summary>
    [JsonIgnore]
    public int Dimensions => (int)Math.Min(int.MaxValue, LongDimensions);

    long LongDimensions => ContextBefore + ContextAfter == 0 ? FeaturesPerFrame : (long)FeaturesPerFrame * (ContextBefore + ContextAfter);

    /// <summary>The fewest frames a clip must give: the larger context side (mirrored context needs that many real frames), or one.</summary>
    [JsonIgnore]
    public int MinimumFrames => Math.Max(1, Math.Max(ContextBefore, ContextAfter));

    /// <summary>
    /// The shortest clip accepted, in samples at <see cref="SampleRate"/>: one frame's n_fft samples, and enough for
    /// the context's frames (centred frames give 1 + ⌊n / hop⌋ frames, uncentred ones 1 + ⌊(n − n_fft) / hop⌋).
    /// </summary>
    [JsonIgnore]
    public int MinimumSamples => (int)Math.Min(int.MaxValue, Center
        ? Math.Max(NFft, (MinimumFrames - 1L) * HopLength)
        : NFft + (MinimumFrames - 1L) * HopLength);

    /// <summary>Every problem with the settings, the framing's and the feature's (empty when there is none).</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = FramingProblems();
        problems.AddRange(FeatureProblems(framingValid: problems.Count == 0));
        if (problems.Count == 0 && ContextBefore + ContextAfter > 0 && LongDimensions > MaxDimensions)
            problems.Add($"{LongDimensions} values per frame are more than {MaxDimensions}; use fewer context frames");
        return problems;
    }

    /// <summary>The feature's own problems; <paramref name="framingValid"/> says whether the shared settings have none.</summary>
    protected virtual IEnumerable<string> FeatureProblems(bool framingValid) => [];

    List<string> FramingProblems()
    {
        var problems = new List<string>();
        var win = WinLength ?? NFft;
        if (SampleRate <= 0 || SampleRate > MaxSampleRate) problems.Add($"sample rate must lie in [1, {MaxSampleRate}] Hz (got {SampleRate})");
        if (NFft < 2 || NFft > MaxNFft) problems.Add($"n_fft must lie in [2, {MaxNFft}] (got {NFft})");
        if (HopLength <= 0) problems.Add($"hop_length must be > 0 (got {HopLength})");
        if (win < 1 || win > NFft) problems.Add($"win_length {win} must lie in [1, n_fft = {NFft}]");
        if (ContextBefore < 0 || ContextAfter < 0 || ContextBefore > MaxContext || ContextAfter > MaxContext)
            problems.Add($"context sizes must lie in [0, {MaxContext}] (got {ContextBefore}, {ContextAfter})");
        return problems;
    }

    /// <summary>Returns this when <see cref="Problems"/> finds none.</summary>
    /// <exception cref="InvalidOptionException">Every problem at once, in one message.</exception>
    public FrontEndConfig Validate()
    {
        var problems = Problems();
        if (problems.Count > 0) throw new InvalidOptionException("front end: " + string.Join("; ", problems));
        return this;
    }

    /// <summary>The DCASE 2020 Task 2 baseline: 16 kHz, n_fft 512, hop 160, 64 mel bands, log-mel, 10 + 10 context frames → 1280 values.</summary>
    public static LogMelOptions DcaseLogMel => new() { ContextBefore = 10, ContextAfter = 10 };
    /// <summary>The mel-cepstrum VAE recipe: 16 kHz, 1024-sample Blackman frames, hop 160, α 0.42, order 39, c₀ dropped → 39 values.</summary>
    public static MelCepstrumOptions VaeMelCepstrum => new() { NFft = 1024, Window = WindowKind.Blackman };
    /// <summary>librosa.feature.melspectrogram's defaults: 22 050 Hz, n_fft 2048, hop 512, 128 bands of power.</summary>
    public static MelSpectrogramOptions LibrosaMel => new() { SampleRate = 22050, NFft = 2048, HopLength = 512, NMels = 128 };
    /// <summary>librosa.feature.mfcc's defaults: 20 coefficients over 128 bands at 22 050 Hz, n_fft 2048, hop 512.</summary>
    public static MfccOptions LibrosaMfcc => new() { SampleRate = 22050, NFft = 2048, HopLength = 512, NMels = 128 };
    /// <summary>The magnitude spectrogram the decomposition models use: 22 050 Hz, n_fft 2048, hop 512.</summary>
    public static SpectrogramOptions MagnitudeSpectrogram => new() { SampleRate = 22050, NFft = 2048, HopLength = 512 };

    /// <summary>Names accepted by <see cref="Preset"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["dcase-logmel", "vae-mcep", "librosa-mel", "librosa-mfcc", "stft"];

    /// <summary>
    /// A named recipe: <c>dcase-logmel</c> (<see cref="DcaseLogMel"/>), <c>vae-mcep</c> (<see cref="VaeMelCepstrum"/>),
    /// <c>librosa-mel</c>, <c>librosa-mfcc</c>, <c>stft</c> (<see cref="MagnitudeSpectrogram"/>).
    /// </summary>
    /// <exception cref="InvalidOptionException">An unknown name.</exception>
    public static FrontEndConfig Preset(string name) => name switch
    {
        "dcase-logmel" => DcaseLogMel,
        "vae-mcep" => VaeMelCepstrum,
        "librosa-mel" => LibrosaMel,
        "librosa-mfcc" => LibrosaMfcc,
        "stft" => MagnitudeSpectrogram,
        _ => throw new InvalidOptionException($"unknown front-end preset '{name}'; known: {string.Join(", ", PresetNames)}"),
    };

    /// <summary>
    /// The same framing computing <paramref name="feature"/> instead: settings both features have are kept, the
    /// new feature's own start at their defaults.
    /// </summary>
    public FrontEndConfig WithFeature(FeatureKind feature) => FrontEndJson.From(this, canonical: false).ToConfig(feature);

    /// <summary>The same features with every implicit default written out (win_length, fmax) and the padding a
    /// non-centred front end ignores reset.</summary>
    public virtual FrontEndConfig Canonical() => this with { WinLength = WinLength ?? NFft, PadMode = Center ? PadMode : PadMode.Constant };

    /// <summary>True when both configs give identical features.</summary>
    public virtual bool Equals(FrontEndConfig? other) => other is not null && CanonicalJson() == other.CanonicalJson();

    /// <inheritdoc/>
    public override int GetHashCode() => CanonicalJson().GetHashCode(StringComparison.Ordinal);

    string CanonicalJson() => JsonSerializer.Serialize(FrontEndJson.From(this, canonical: true), FrontEndJsonContext.Default.FrontEndJson);

    /// <summary>Compact flat JSON (enums by name; the feature's kind in <c>feature</c>), as manifests store it.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FrontEndJsonContext.Default.FrontEndConfig);

    /// <summary>Parses <see cref="ToJson"/>'s output and validates it.</summary>
    /// <exception cref="InvalidOptionException">Not JSON of a front end, or settings with problems.</exception>
    public static FrontEndConfig FromJson(string json)
    {
        try { return (JsonSerializer.Deserialize(json, FrontEndJsonContext.Default.FrontEndConfig) ?? throw new JsonException("null")).Validate(); }
        catch (JsonException e) { throw new InvalidOptionException($"front-end configuration is not valid JSON: {e.Message}"); }
    }
}
