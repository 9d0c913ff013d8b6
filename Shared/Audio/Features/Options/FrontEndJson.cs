using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Shared.Audio;

/// <summary>
/// A front end as manifests and feature folders store it: one flat object holding every setting of every feature,
/// <c>feature</c> saying which record it is; settings the feature does not use hold their defaults. The property
/// names and order are those manifests have always had, so earlier models load unchanged.
/// </summary>
internal sealed record FrontEndJson
{
    // every default is the options records' own: a setting a feature does not use is written as that default
    static readonly LogMelOptions LogMel = new();
    static readonly MfccOptions Mfcc = new();
    static readonly MelCepstrumOptions Cepstrum = new();

    public int SampleRate { get; init; } = LogMel.SampleRate;
    public int NFft { get; init; } = LogMel.NFft;
    public int HopLength { get; init; } = LogMel.HopLength;
    public int? WinLength { get; init; } = LogMel.WinLength;
    public WindowKind Window { get; init; } = LogMel.Window;
    public bool Center { get; init; } = LogMel.Center;
    public PadMode PadMode { get; init; } = LogMel.PadMode;
    public FeatureKind Feature { get; init; } = LogMel.Feature;
    public float Power { get; init; } = LogMel.Power;
    public int NMels { get; init; } = LogMel.NMels;
    public double FMin { get; init; } = LogMel.FMin;
    public double? FMax { get; init; } = LogMel.FMax;
    public MelScale MelScale { get; init; } = LogMel.MelScale;
    public bool SlaneyNorm { get; init; } = LogMel.SlaneyNorm;
    public double LogFloor { get; init; } = LogMel.LogFloor;
    public int NMfcc { get; init; } = Mfcc.NMfcc;
    public int CepstrumOrder { get; init; } = Cepstrum.Order;
    public double Alpha { get; init; } = Cepstrum.Alpha;
    public bool DropC0 { get; init; } = Cepstrum.DropC0;
    public int ContextBefore { get; init; } = LogMel.ContextBefore;
    public int ContextAfter { get; init; } = LogMel.ContextAfter;
    // written for readers of the file (and as they always were); ignored when read
    public int Dimensions { get; init; }
    public int MinimumFrames { get; init; }
    public int MinimumSamples { get; init; }

    /// <summary>The flat form of <paramref name="config"/> (of its canonical form when <paramref name="canonical"/>).</summary>
    public static FrontEndJson From(FrontEndConfig config, bool canonical)
    {
        if (canonical) config = config.Canonical();
        var flat = new FrontEndJson
        {
            SampleRate = config.SampleRate, NFft = config.NFft, HopLength = config.HopLength, WinLength = config.WinLength,
            Window = config.Window, Center = config.Center, PadMode = config.PadMode, Feature = config.Feature,
            ContextBefore = config.ContextBefore, ContextAfter = config.ContextAfter,
            Dimensions = config.Dimensions, MinimumFrames = config.MinimumFrames, MinimumSamples = config.MinimumSamples,
        };
        return config switch
        {
            LogMelOptions l => Mel(flat, l) with { LogFloor = l.LogFloor },
            MfccOptions m => Mel(flat, m) with { NMfcc = m.NMfcc },
            MelSpectrogramOptions m => Mel(flat, m),
            MelCepstrumOptions c => flat with { CepstrumOrder = c.Order, Alpha = c.Alpha, DropC0 = c.DropC0 },
            _ => flat, // the spectrogram's power is its feature (Magnitude or Power)
        };
    }

    static FrontEndJson Mel(FrontEndJson flat, MelSpectrogramOptions m) => flat with
    {
        Power = m.Power, NMels = m.NMels, FMin = m.FMin, FMax = m.FMax, MelScale = m.MelScale, SlaneyNorm = m.SlaneyNorm,
    };

    /// <summary>The options record of <paramref name="feature"/> with these settings (those it uses).</summary>
    public FrontEndConfig ToConfig(FeatureKind feature)
    {
        FrontEndConfig typed = feature switch
        {
            FeatureKind.Magnitude or FeatureKind.Power => new SpectrogramOptions { Power = feature == FeatureKind.Power ? 2f : 1f },
            FeatureKind.Mel => new MelSpectrogramOptions { Power = Power, NMels = NMels, FMin = FMin, FMax = FMax, MelScale = MelScale, SlaneyNorm = SlaneyNorm },
            FeatureKind.LogMel => new LogMelOptions { Power = Power, NMels = NMels, FMin = FMin, FMax = FMax, MelScale = MelScale, SlaneyNorm = SlaneyNorm, LogFloor = LogFloor },
            // MFCCs always start from the power spectrum; earlier manifests may hold another, unused, power
            FeatureKind.Mfcc => new MfccOptions { NMels = NMels, FMin = FMin, FMax = FMax, MelScale = MelScale, SlaneyNorm = SlaneyNorm, NMfcc = NMfcc },
            FeatureKind.MelCepstrum => new MelCepstrumOptions { Order = CepstrumOrder, Alpha = Alpha, DropC0 = DropC0 },
            _ => throw new JsonException($"unknown feature {feature}"),
        };
        return typed with
        {
            SampleRate = SampleRate, NFft = NFft, HopLength = HopLength, WinLength = WinLength, Window = Window, Center = Center,
            PadMode = PadMode, ContextBefore = ContextBefore, ContextAfter = ContextAfter,
        };
    }
}

/// <summary>Writes and reads a <see cref="FrontEndConfig"/> as its flat <see cref="FrontEndJson"/>.</summary>
internal sealed class FrontEndConfigJsonConverter : JsonConverter<FrontEndConfig>
{
    public override FrontEndConfig Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var flat = JsonSerializer.Deserialize(ref reader, FrontEndJsonContext.Default.FrontEndJson) ?? throw new JsonException("a front end cannot be null");
        return flat.ToConfig(flat.Feature);
    }

    public override void Write(Utf8JsonWriter writer, FrontEndConfig value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, FrontEndJson.From(value, canonical: false), FrontEndJsonContext.Default.FrontEndJson);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(FrontEndJson))]
[JsonSerializable(typeof(FrontEndConfig))]
internal sealed partial class FrontEndJsonContext : JsonSerializerContext;
