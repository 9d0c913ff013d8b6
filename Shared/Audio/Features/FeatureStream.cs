using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// A <see cref="FeatureExtractor"/>'s features computed while audio arrives in chunks of any size (a microphone's
/// 10 ms buffers, a socket's reads): <see cref="Push"/> returns each row as soon as everything it reads is known (its
/// frame's samples and, with context stacking, the frames after it), and <see cref="Complete"/> the rows that read the
/// end padding or the mirrored end context. The rows equal <see cref="FeatureExtractor.Extract"/> of the whole clip
/// bit for bit, and the same inputs are refused with the same errors. Only the samples and frames that later rows
/// read are kept, so a stream may run for hours. One writer at a time.
/// </summary>
/// <remarks>
/// With n = n_fft, h = hop_length and librosa's centring, frame t reads samples [t·h − n/2, t·h + n/2): it is final once
/// t·h + n/2 samples have arrived. Row t of the stacked features reads frames t − before … t + after − 1.
/// </remarks>
public sealed class FeatureStream
{
    readonly FeatureExtractor extractor;
    readonly FrontEndConfig config;
    readonly Stft stft;
    readonly string source;
    readonly int half, before, after, perFrameDims;
    readonly bool reflect;

    float[] samples = new float[8192]; // x[sampleStart .. received)
    int sampleOffset;                  // where x[sampleStart] lies in samples
    long sampleStart, received;

    readonly List<float[]> frameRows = []; // per-frame features of frames [rowStart, framesDone)
    long rowStart, framesDone, rowsEmitted;
    bool completed;

    /// <summary>A stream at <see cref="FrontEndConfig.SampleRate"/>, mono.</summary>
    /// <param name="source">Names the stream in errors.</param>
    /// <exception cref="InvalidOptionException">The front end's features need the whole clip (MFCC's floor 80 dB below the clip's maximum).</exception>
    public FeatureStream(FeatureExtractor extractor, string source = "stream")
    {
        this.extractor = extractor;
        this.source = source;
        config = extractor.Config;
        if (config.Feature == FeatureKind.Mfcc)
            throw new InvalidOptionException("MFCC features cannot be streamed: they are floored 80 dB below the whole clip's maximum (librosa's top_db), which is known only at its end; score whole clips instead");
        stft = extractor.Stft;
        half = config.Center ? config.NFft / 2 : 0;
        reflect = config.Center && config.PadMode == PadMode.Reflect;
        (before, after) = (config.ContextBefore, config.ContextAfter);
        perFrameDims = config.Dimensions / Math.Max(1, before + after);
    }

    /// <summary>Values per row (<see cref="FrontEndConfig.Dimensions"/>).</summary>
    public int Dimensions => config.Dimensions;

    /// <summary>Samples received so far.</summary>
    public long SamplesReceived => received;

    /// <summary>Rows returned so far; the next row returned is row <see cref="RowsEmitted"/> of the clip.</summary>
    public long RowsEmitted => rowsEmitted;

    /// <summary>Adds mono samples at the front end's rate and returns the rows they complete: (rows, <see cref="Dimensions"/>), often 0 rows.</summary>
    /// <exception cref="InvalidAudioException">A sample is NaN or infinite, or the features are not finite.</exception>
    /// <exception cref="InvalidOperationException">After <see cref="Complete"/>.</exception>
    public NdArray Push(ReadOnlySpan<float> chunk)
    {
        if (completed) throw new InvalidOperationException("the stream is complete");
        for (var i = 0; i < chunk.Length; i++)
            if (!float.IsFinite(chunk[i]))
                throw new InvalidAudioException(source, $"sample {received + i} is {chunk[i]}");
        Append(chunk);
        // frames whose window ends within what has arrived (reflect padding also reads x[n/2] for frame 0)
        var ready = received + half - config.NFft < 0 || reflect && received <= half ? 0 : (received + half - config.NFft) / config.HopLength + 1;
        ComputeFrames(ready, chunk, end: false);
        // row t reads frames up to t + after − 1 (and, near the start, the mirrored [0, before)); a clip shorter than
        // the context is refused, so nothing is given before there are that many frames
        // the same holds for a clip shorter than one frame
        var rows = framesDone >= Math.Max(before, after) && received >= config.NFft ? Math.Min(framesDone, framesDone - after + 1) : rowsEmitted;
        return Emit(rows, framesDone);
    }

    /// <summary>Ends the stream: the remaining rows, those that read the end padding and the mirrored end context.</summary>
    /// <exception cref="InvalidAudioException">
    /// The whole stream is too short (shorter than a frame, than reflect padding, or than the context), as
    /// <see cref="FeatureExtractor.Extract"/> refuses it.
    /// </exception>
    public NdArray Complete()
    {
        if (completed) throw new InvalidOperationException("the stream is complete");
        completed = true;
        if (received < config.NFft) throw extractor.ShorterThanAFrame(received, source);
        // nothing computed yet: the stream is short and still whole here, so the whole-clip checks say what is wrong
        if (framesDone == 0) stft.Framed(samples.AsSpan(sampleOffset, (int)received), source);
        var total = stft.FrameCount(received);
        ComputeFrames(total, samples.AsSpan(sampleOffset, (int)(received - sampleStart)), end: true);
        if (before + after > 0 && total < Math.Max(before, after)) throw extractor.TooShort(total, source);
        return Emit(total, total);
    }

    void Append(ReadOnlySpan<float> chunk)
    {
        var used = (int)(received - sampleStart);
        if (sampleOffset + used + chunk.Length > samples.Length)
        {
            // drop what no later frame reads: before the next frame's window, but keep the last n/2 + 1 samples
            // (the end's reflect padding reads them) and, until frame 0 is done, the start's
            var keepFrom = Math.Max(0, Math.Min(framesDone * config.HopLength - half, received - half - 1));
            var drop = (int)(keepFrom - sampleStart);
            used -= drop;
            var target = used + chunk.Length > samples.Length / 2 ? new float[Math.Max(samples.Length, 2 * (used + chunk.Length))] : samples;
            Array.Copy(samples, sampleOffset + drop, target, 0, used);
            (samples, sampleOffset, sampleStart) = (target, 0, keepFrom);
        }
        chunk.CopyTo(samples.AsSpan(sampleOffset + used));
        received += chunk.Length;
    }

    /// <summary>Per-frame features of frames [framesDone, <paramref name="upTo"/>).</summary>
    void ComputeFrames(long upTo, ReadOnlySpan<float> recent, bool end)
    {
        if (upTo <= framesDone) return;
        var count = (int)(upTo - framesDone);
        // the samples these frames read, padding included, laid out as Stft frames them
        var first = framesDone * config.HopLength - half;
        var framed = new float[(count - 1) * config.HopLength + config.NFft];
        for (var j = 0; j < framed.Length; j++) framed[j] = At(first + j, end);
        var perFrame = extractor.PerFrame(framed, count, source);
        FeatureExtractor.RequireFinite(perFrame, (int)framesDone, recent, source);
        for (var r = 0; r < count; r++) frameRows.Add(perFrame.Data.AsSpan(r * perFrameDims, perFrameDims).ToArray());
        framesDone = upTo;
    }

    /// <summary>Sample x of the padded signal (zeros or numpy's reflection outside [0, received)).</summary>
    float At(long x, bool end)
    {
        if (x < 0)
        {
            if (!reflect) return 0;
            x = -x;
        }
        else if (x >= received)
        {
            if (!reflect || !end) return 0;
            x = 2 * (received - 1) - x;
        }
        return samples[sampleOffset + (int)(x - sampleStart)];
    }

    /// <summary>Rows [rowsEmitted, <paramref name="upTo"/>) of the stacked features, of a clip of <paramref name="frames"/> frames.</summary>
    NdArray Emit(long upTo, long frames)
    {
        var count = (int)Math.Max(0, upTo - rowsEmitted);
        var width = Math.Max(1, before + after);
        var result = new float[count * width * perFrameDims];
        for (var r = 0; r < count; r++)
            for (var j = 0; j < width; j++)
            {
                var t = rowsEmitted + r;
                var frame = before + after == 0 ? t : ContextFrames.Mirrored(t + j - before, frames);
                frameRows[(int)(frame - rowStart)].CopyTo(result, (r * width + j) * perFrameDims);
            }
        rowsEmitted += count;
        // later rows read frames from rowsEmitted − before on (and the start's mirror [0, before) until then)
        var keepFrom = Math.Min(Math.Max(0, rowsEmitted - before), framesDone);
        if (keepFrom - rowStart > 256)
        {
            frameRows.RemoveRange(0, (int)(keepFrom - rowStart));
            rowStart = keepFrom;
        }
        return new NdArray([count, width * perFrameDims], result);
    }
}
