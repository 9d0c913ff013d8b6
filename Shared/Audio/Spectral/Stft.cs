using System.Numerics.Tensors;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>How a centred STFT extends the signal at its ends.</summary>
public enum PadMode
{
    /// <summary>Zeros (librosa ≥ 0.10's default).</summary>
    Constant,
    /// <summary>Mirror without repeating the edge sample (torch.stft's default).</summary>
    Reflect,
}

/// <summary>A complex spectrogram, (bins, frames) row-major, bins = n_fft/2 + 1, as librosa lays it out.</summary>
public sealed class Spectrogram(int bins, int frames, float[] real, float[] imaginary)
{
    /// <summary>Frequency bins (n_fft/2 + 1).</summary>
    public int Bins { get; } = bins;
    /// <summary>Frames.</summary>
    public int Frames { get; } = frames;
    /// <summary>Real parts, bin-major.</summary>
    public float[] Real { get; } = real;
    /// <summary>Imaginary parts, bin-major.</summary>
    public float[] Imaginary { get; } = imaginary;

    /// <summary>|X|, (bins, frames).</summary>
    public NdArray Magnitude()
    {
        var m = new float[Real.Length];
        for (var i = 0; i < m.Length; i++) m[i] = MathF.Sqrt(Real[i] * Real[i] + Imaginary[i] * Imaginary[i]);
        return new NdArray([Bins, Frames], m);
    }

    /// <summary>|X|², (bins, frames).</summary>
    public NdArray Power()
    {
        var p = new float[Real.Length];
        TensorPrimitives.Multiply(Real, Real, p);
        TensorPrimitives.MultiplyAdd(Imaginary, Imaginary, p, p);
        return new NdArray([Bins, Frames], p);
    }

    /// <summary>The phase angle in (−π, π], (bins, frames).</summary>
    public NdArray Phase()
    {
        var a = new float[Real.Length];
        for (var i = 0; i < a.Length; i++) a[i] = MathF.Atan2(Imaginary[i], Real[i]);
        return new NdArray([Bins, Frames], a);
    }

    /// <summary>The complex spectrogram with magnitudes <paramref name="magnitude"/> and this one's phase (for soft-mask separation).</summary>
    public Spectrogram WithMagnitude(NdArray magnitude)
    {
        if (magnitude.Rows != Bins || magnitude.Columns != Frames)
            throw new InvalidInputException($"magnitude of shape {magnitude.ShapeText} for a spectrogram of ({Bins}, {Frames})");
        var re = new float[Real.Length];
        var im = new float[Real.Length];
        for (var i = 0; i < re.Length; i++)
        {
            var m = MathF.Sqrt(Real[i] * Real[i] + Imaginary[i] * Imaginary[i]);
            if (m > 0) { re[i] = magnitude.Data[i] * Real[i] / m; im[i] = magnitude.Data[i] * Imaginary[i] / m; }
            else re[i] = magnitude.Data[i];
        }
        return new Spectrogram(Bins, Frames, re, im);
    }
}

/// <summary>
/// Short-time Fourier transform with librosa's conventions: a window of win_length samples centred in n_fft,
/// frames every hop_length samples, and with <c>center</c> the signal padded by n_fft/2 on each side so frame t
/// is centred on sample t·hop (1 + len/hop frames; without centring 1 + (len − n_fft)/hop). The inverse is
/// librosa's weighted overlap-add divided by the window's squared sum, so ISTFT(STFT(x)) = x wherever the
/// windows overlap (COLA). NWaves' FFT does the transforms (<see cref="RealFourier"/>); an instance is immutable and safe to share across threads.
/// </summary>
public sealed class Stft
{
    /// <summary>FFT size.</summary>
    public int NFft { get; }
    /// <summary>Samples between frames.</summary>
    public int HopLength { get; }
    /// <summary>Window length (≤ n_fft; zero-padded to n_fft in the middle).</summary>
    public int WinLength { get; }
    /// <summary>Window kind (periodic).</summary>
    public WindowKind Window { get; }
    /// <summary>Centre frames on hop multiples.</summary>
    public bool Center { get; }
    /// <summary>Padding at the ends when centred.</summary>
    public PadMode PadMode { get; }

    readonly float[] window; // n_fft long
    // NWaves' FFT objects hold work buffers: one per thread, made once (a stream asks for a frame at a time)
    readonly ThreadLocal<RealFourier> fourier;

    /// <summary>Checks the parameters and makes the window.</summary>
    public Stft(int nFft, int hopLength, int? winLength = null, WindowKind window = WindowKind.Hann, bool center = true, PadMode padMode = PadMode.Constant)
    {
        var win = winLength ?? nFft;
        var problems = new List<string>();
        if (nFft < 2) problems.Add($"n_fft must be ≥ 2 (got {nFft})");
        if (hopLength <= 0) problems.Add($"hop_length must be > 0 (got {hopLength})");
        if (win < 1 || win > nFft) problems.Add($"win_length must lie in [1, n_fft = {nFft}] (got {win})");
        if (problems.Count > 0) throw new InvalidOptionException("STFT: " + string.Join("; ", problems));
        (NFft, HopLength, WinLength, Window, Center, PadMode) = (nFft, hopLength, win, window, center, padMode);
        fourier = new ThreadLocal<RealFourier>(() => new RealFourier(nFft));
        this.window = new float[nFft];
        Audio.Window.Create(window, win).CopyTo(this.window, (nFft - win) / 2);
    }

    /// <summary>Number of frequency bins, n_fft/2 + 1.</summary>
    public int Bins => NFft / 2 + 1;

    /// <summary>Number of frames for a signal of <paramref name="length"/> samples.</summary>
    public int FrameCount(int length) => (int)FrameCount((long)length);

    /// <inheritdoc cref="FrameCount(int)"/>
    internal long FrameCount(long length) => Center ? 1 + length / HopLength : length < NFft ? 0 : 1 + (length - NFft) / HopLength;

    /// <summary>The complex spectrogram of <paramref name="signal"/>: (n_fft/2 + 1, frames).</summary>
    public Spectrogram Forward(ReadOnlySpan<float> signal, string source = "signal")
    {
        var (padded, frames) = Framed(signal, source);
        var bins = Bins;
        var re = new float[bins * frames];
        var im = new float[bins * frames];
        var frame = new float[NFft];
        var spectrum = new float[2 * bins];
        var fft = fourier.Value!;
        for (var t = 0; t < frames; t++)
        {
            TensorPrimitives.Multiply(padded.AsSpan(t * HopLength, NFft), window, frame);
            fft.Forward(frame, spectrum);
            for (var k = 0; k < bins; k++)
            {
                re[k * frames + t] = spectrum[2 * k];
                im[k * frames + t] = spectrum[2 * k + 1];
            }
        }
        return new Spectrogram(bins, frames, re, im);
    }

    /// <summary>|STFT|^<paramref name="power"/> without keeping the complex values: (bins, frames).</summary>
    public NdArray Magnitude(ReadOnlySpan<float> signal, float power = 1f, string source = "signal")
    {
        var (padded, frames) = Framed(signal, source);
        return FramesMagnitude(padded, frames, power);
    }

    /// <summary>
    /// |STFT|^<paramref name="power"/> of <paramref name="frames"/> frames read from an already framed signal (frame t
    /// from sample t·hop of <paramref name="padded"/>): (bins, frames). A frame's values do not depend on its neighbours,
    /// so a stream computed a few frames at a time equals the whole clip's bit for bit.
    /// </summary>
    internal NdArray FramesMagnitude(ReadOnlySpan<float> padded, int frames, float power)
    {
        var bins = Bins;
        var result = new float[bins * frames];
        // one thread per clip: FeatureLoader runs files in parallel, and a clip is a few milliseconds of work.
        // Frames go in blocks of 16, written out bin by bin: each bin's 16 values are one cache line of the
        // (bins, frames) result, where a frame at a time would touch a line per bin
        const int block = 16;
        var frame = new float[NFft];
        var values = new float[block * bins];
        var fft = fourier.Value!;
        for (var t0 = 0; t0 < frames; t0 += block)
        {
            var count = Math.Min(block, frames - t0);
            for (var f = 0; f < count; f++)
            {
                TensorPrimitives.Multiply(padded.Slice((t0 + f) * HopLength, NFft), window, frame);
                var row = values.AsSpan(f * bins, bins);
                fft.Power(frame, row);
                if (power == 1f) TensorPrimitives.Sqrt(row, row);
                else if (power != 2f) TensorPrimitives.Pow(row, power / 2, row);
            }
            for (var k = 0; k < bins; k++)
                for (var f = 0; f < count; f++) result[k * frames + t0 + f] = values[f * bins + k];
        }
        return new NdArray([bins, frames], result);
    }

    /// <summary>
    /// The signal whose STFT is <paramref name="spectrogram"/> (least-squares overlap-add, as librosa.istft);
    /// <paramref name="length"/> trims or zero-pads to an exact length.
    /// </summary>
    public float[] Inverse(Spectrogram spectrogram, int? length = null)
    {
        if (spectrogram.Bins != Bins)
            throw new InvalidInputException($"ISTFT: the spectrogram has {spectrogram.Bins} bins, n_fft = {NFft} needs {Bins}");
        var frames = spectrogram.Frames;
        var total = NFft + HopLength * (frames - 1);
        var output = new double[total];
        var norm = new double[total];
        var spectrum = new float[2 * Bins];
        var frame = new float[NFft];
        var fft = fourier.Value!;
        for (var t = 0; t < frames; t++)
        {
            for (var k = 0; k < Bins; k++)
            {
                spectrum[2 * k] = spectrogram.Real[k * frames + t];
                spectrum[2 * k + 1] = spectrogram.Imaginary[k * frames + t];
            }
            fft.Inverse(spectrum, frame);
            var start = t * HopLength;
            for (var n = 0; n < NFft; n++)
            {
                output[start + n] += frame[n] / NFft * window[n];
                norm[start + n] += window[n] * window[n];
            }
        }
        var offset = Center ? NFft / 2 : 0;
        var outLength = length ?? (Center ? total - NFft : total);
        var signal = new float[outLength];
        for (var i = 0; i < outLength && offset + i < total; i++)
        {
            var w = norm[offset + i];
            signal[i] = (float)(w > 1e-10 ? output[offset + i] / w : output[offset + i]);
        }
        return signal;
    }

    /// <summary>The checked signal as frame t reads it (from sample t·hop, n_fft long), and the frame count.</summary>
    internal (float[] Padded, int Frames) Framed(ReadOnlySpan<float> signal, string source)
    {
        CheckSignal(signal, source);
        var padded = Center ? PadEnds(signal, source) : signal.ToArray();
        var frames = FrameCount(signal.Length);
        if (frames < 1) throw new InvalidAudioException(source, $"{signal.Length} samples are shorter than one frame of n_fft = {NFft}");
        return (padded, frames);
    }

    float[] PadEnds(ReadOnlySpan<float> signal, string source)
    {
        var pad = NFft / 2;
        var padded = new float[signal.Length + 2 * pad];
        signal.CopyTo(padded.AsSpan(pad));
        if (PadMode == PadMode.Reflect)
        {
            if (signal.Length <= pad)
                throw new InvalidAudioException(source, $"{signal.Length} samples are too short for reflect padding of {pad}; use constant padding or a longer signal");
            for (var i = 0; i < pad; i++)
            {
                padded[pad - 1 - i] = signal[i + 1];
                padded[pad + signal.Length + i] = signal[signal.Length - 2 - i];
            }
        }
        return padded;
    }

    static void CheckSignal(ReadOnlySpan<float> signal, string source)
    {
        if (signal.Length == 0) throw new InvalidAudioException(source, "the signal is empty");
        for (var i = 0; i < signal.Length; i++)
            if (!float.IsFinite(signal[i]))
                throw new InvalidAudioException(source, $"sample {i} is {signal[i]} (read from a file, such a value comes from mixing down or resampling samples near float32's limit, ±3.4e38)");
    }
}
