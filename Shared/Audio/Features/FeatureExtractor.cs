using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Computes a <see cref="FrontEndConfig"/>'s features: (frames, dimensions), one row per frame, as the models
/// consume them. Training and Inference both call this class, so their features are bit-identical. An instance
/// is immutable and thread-safe.
/// </summary>
public sealed class FeatureExtractor
{
    /// <summary>The configuration (validated).</summary>
    public FrontEndConfig Config { get; }

    readonly Stft stft;

    /// <summary>The STFT the features start from.</summary>
    internal Stft Stft => stft;
    readonly MelFilterBank? mel;
    readonly MelCepstrum? cepstrum;
    readonly float[]? cepstrumWindow;

    /// <summary>What the user should know about the settings, which do not stop the work (empty mel bands).</summary>
    public IReadOnlyList<string> Warnings { get; } = [];

    /// <summary>Validates <paramref name="config"/> and prepares the window, filters and plans.</summary>
    /// <exception cref="InvalidOptionException">The settings have problems (every one is listed), every mel band being empty among them.</exception>
    public FeatureExtractor(FrontEndConfig config)
    {
        Config = config.Validate();
        stft = new Stft(config.NFft, config.HopLength, config.WinLength, config.Window, config.Center, config.PadMode);
        if (config is MelSpectrogramOptions melOptions)
        {
            mel = melOptions.FilterBank();
            Warnings = melOptions.Warnings(mel);
        }
        if (config is MelCepstrumOptions cepstrumOptions)
        {
            cepstrum = new MelCepstrum(cepstrumOptions.Order, cepstrumOptions.Alpha, config.NFft);
            var win = config.WinLength ?? config.NFft;
            cepstrumWindow = new float[config.NFft];
            Window.Create(config.Window, win).CopyTo(cepstrumWindow, (config.NFft - win) / 2);
        }
    }

    /// <summary>Reads a file (mono, resampled to the configured rate) and computes its features.</summary>
    public NdArray ExtractFile(string path) =>
        Extract(AudioFile.Read(path, new AudioReadOptions { SampleRate = Config.SampleRate }), path);

    /// <summary>Features of a mono clip at the configured rate: (frames, <see cref="FrontEndConfig.Dimensions"/>).</summary>
    public NdArray Extract(AudioClip clip, string source = "signal")
    {
        if (clip.Channels != 1) throw new InvalidAudioException(source, $"has {clip.Channels} channels; mix it down to mono first");
        if (clip.SampleRate != Config.SampleRate)
            throw new InvalidAudioException(source, $"is sampled at {clip.SampleRate} Hz but the front end expects {Config.SampleRate} Hz; resample it (AudioFile.Read does when given a rate)");
        if (clip.Samples.Length < Config.NFft) throw ShorterThanAFrame(clip.Samples.Length, source);
        var (padded, frames) = stft.Framed(clip.Samples, source);
        var perFrame = PerFrame(padded, frames, source);
        RequireFinite(perFrame, 0, clip.Samples, source);
        if (Config.ContextBefore + Config.ContextAfter == 0) return perFrame;
        if (perFrame.Rows < Math.Max(Config.ContextBefore, Config.ContextAfter)) throw TooShort(perFrame.Rows, source);
        try { return ContextFrames.Stack(perFrame, Config.ContextBefore, Config.ContextAfter); }
        catch (InvalidInputException e) { throw new InvalidAudioException(source, e.Message, e); }
    }

    /// <summary>
    /// A clip of fewer samples than one analysis frame: refused centred too, where padding alone would fill the frame.
    /// </summary>
    internal InvalidAudioException ShorterThanAFrame(long samples, string source) => new(source,
        $"is too short: {samples} samples are fewer than one frame of n_fft = {Config.NFft} ({Config.NFft / (double)Config.SampleRate:0.###} s at {Config.SampleRate} Hz)");

    /// <summary>The error for a clip of <paramref name="frames"/> frames, fewer than the mirrored context needs (<see cref="FrontEndConfig.MinimumFrames"/>).</summary>
    public InvalidAudioException TooShort(long frames, string source) => new(source,
        $"is too short: it gives {frames} frame{(frames == 1 ? "" : "s")}, and a mirrored context of {Config.ContextBefore} + {Config.ContextAfter} frames needs at least {Config.MinimumFrames} real ones ({Config.MinimumSamples} samples, {Config.MinimumSamples / (double)Config.SampleRate:0.###} s at {Config.SampleRate} Hz)");

    /// <summary>
    /// The features of <paramref name="frames"/> frames, before context stacking, read from an already framed signal
    /// (frame t from sample t·hop of <paramref name="padded"/>, as <see cref="Stft"/> frames it): (frames, per-frame
    /// dimensions). Each row depends on its own frame only, except MFCC's 80 dB floor below the clip's maximum.
    /// </summary>
    internal NdArray PerFrame(ReadOnlySpan<float> padded, int frames, string source) => Config switch
    {
        SpectrogramOptions s => Transpose(stft.FramesMagnitude(padded, frames, s.Power)),
        LogMelOptions l => Transpose(LogMel(mel!.Apply(stft.FramesMagnitude(padded, frames, l.Power)), l)),
        MfccOptions m => Transpose(Mfcc.FromLogMel(Decibels.PowerToDb(mel!.Apply(stft.FramesMagnitude(padded, frames, 2f))), m.NMfcc)),
        MelSpectrogramOptions m => Transpose(mel!.Apply(stft.FramesMagnitude(padded, frames, m.Power))),
        MelCepstrumOptions c => MelCepstra(padded, frames, c),
        _ => throw new InvalidOptionException($"front end: {Config.GetType().Name} is not a feature this extractor computes"),
    };

    /// <summary>
    /// Finite samples can still give NaN or ±∞ features (float32 overflows near 3.4e38, and a power spectrum squares
    /// the samples): such features are an error naming where, never something a model silently scores.
    /// </summary>
    /// <param name="firstFrame">The index of <paramref name="perFrame"/>'s first row in the clip.</param>
    /// <param name="samples">The samples the rows came from (for the peak the message names).</param>
    internal static void RequireFinite(NdArray perFrame, int firstFrame, ReadOnlySpan<float> samples, string source)
    {
        var at = perFrame.FirstNonFinite();
        if (at < 0) return;
        var peak = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(samples);
        throw new InvalidAudioException(source,
            $"gives non-finite features ({(float.IsNaN(perFrame.Data[at]) ? "NaN" : "infinite")} at frame {firstFrame + at / perFrame.Columns}, dimension {at % perFrame.Columns}): " +
            $"its samples peak at {Math.Abs(peak):G3}, beyond what float32 features can hold; audio is expected within ±1");
    }

    static NdArray LogMel(NdArray melEnergies, LogMelOptions options)
    {
        var scale = 20.0 / options.Power;
        var data = melEnergies.Data;
        var result = new float[data.Length];
        for (var i = 0; i < data.Length; i++) result[i] = (float)(scale * Math.Log10(data[i] + options.LogFloor));
        return new NdArray((int[])melEnergies.Shape.Clone(), result);
    }

    NdArray MelCepstra(ReadOnlySpan<float> framed, int frames, MelCepstrumOptions options)
    {
        // framed exactly as the STFT frames (same centring and padding); each windowed frame analysed on its own
        var padded = framed.ToArray();
        var n = Config.NFft;
        var first = options.DropC0 ? 1 : 0;
        var dims = options.Order + 1 - first;
        var result = new float[frames * dims];
        Parallel.For(0, frames, ComputeThreads.Options, () => new float[n], (t, _, frame) =>
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(padded.AsSpan(t * Config.HopLength, n), cepstrumWindow, frame);
            var c = cepstrum!.Analyze(frame);
            for (var k = 0; k < dims; k++) result[t * dims + k] = (float)c[first + k];
            return frame;
        }, _ => { });
        return new NdArray([frames, dims], result);
    }

    static NdArray Transpose(NdArray a)
    {
        int rows = a.Rows, columns = a.Columns;
        var t = new float[a.Data.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) t[c * rows + r] = a.Data[r * columns + c];
        return new NdArray([columns, rows], t);
    }
}
