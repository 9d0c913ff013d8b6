using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Decomposition;

/// <summary>Frame-level transcription scores: counts of (pitch, frame) cells and the precision, recall and F-measure they give.</summary>
public sealed record NoteDetectionScores(int TruePositives, int FalsePositives, int FalseNegatives)
{
    /// <summary>Share of detected cells that are true.</summary>
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);
    /// <summary>Share of true cells that were detected.</summary>
    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);
    /// <summary>Harmonic mean of precision and recall.</summary>
    public double F => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);
}

/// <summary>
/// Turns the activations of an unsupervised decomposition into a piano roll. Components carry no pitch labels, so
/// calibration on a labelled training part pairs each pitch with the component whose activity follows it best
/// (greedy on the correlation, one component per pitch) and picks the one threshold, relative to each component's
/// peak training activity, that maximises the training F-measure. Held-out activations are then judged with those
/// pairs and that threshold only.
/// </summary>
public sealed class NoteDetector
{
    /// <summary>For each pitch (row of the roll), the component that plays it.</summary>
    public IReadOnlyList<int> ComponentOfPitch { get; }
    /// <summary>Each component's peak training activity, the unit of the threshold.</summary>
    public IReadOnlyList<double> Peak { get; }
    /// <summary>A pitch sounds where its component's activity exceeds this share of its peak.</summary>
    public double Threshold { get; }

    NoteDetector(int[] components, double[] peak, double threshold) => (ComponentOfPitch, Peak, Threshold) = (components, peak, threshold);

    /// <summary>
    /// Each component's activity per frame (components × frames): the sum over features of its share of the
    /// reconstruction. <paramref name="w"/> is (features × components) for NMF or (features × components·window)
    /// for NMFD, whose component k at lag τ is column k·window + τ; <paramref name="h"/> is (components × frames),
    /// and the result has as many frames as the reconstruction.
    /// </summary>
    public static NdArray Activity(NdArray w, NdArray h)
    {
        var k = h.Rows;
        if (k == 0 || w.Columns % k != 0) throw new InvalidInputException($"W has {w.Columns} columns, not a multiple of H's {k} components");
        var window = w.Columns / k;
        // a convolutional H has window − 1 frames fewer than V: its frame j sounds in frames j … j + window − 1
        var (hFrames, frames) = (h.Columns, h.Columns + window - 1);
        var mass = new double[w.Columns];
        for (var f = 0; f < w.Rows; f++)
            for (var c = 0; c < w.Columns; c++) mass[c] += w.Data[f * w.Columns + c];
        var activity = new float[k * frames];
        for (var r = 0; r < k; r++)
            for (var t = 0; t < frames; t++)
            {
                double sum = 0;
                for (var tau = Math.Max(0, t - hFrames + 1); tau < window && tau <= t; tau++) sum += mass[r * window + tau] * h.Data[r * hFrames + t - tau];
                activity[r * frames + t] = (float)sum;
            }
        return new NdArray([k, frames], activity);
    }

    /// <summary>Pairs pitches with components and chooses the threshold on a labelled part.</summary>
    public static NoteDetector Calibrate(NdArray activity, NdArray roll)
    {
        var (k, pitches, frames) = (activity.Rows, roll.Rows, roll.Columns);
        if (activity.Columns != frames) throw new InvalidInputException($"activity has {activity.Columns} frames, the piano roll {frames}");
        if (k < pitches) throw new InvalidOptionException($"{pitches} pitches need at least as many components, got {k}");
        var correlation = new double[pitches, k];
        for (var p = 0; p < pitches; p++)
            for (var c = 0; c < k; c++) correlation[p, c] = Correlation(roll.Data.AsSpan(p * frames, frames), activity.Data.AsSpan(c * frames, frames));
        var components = new int[pitches];
        var (pitchTaken, componentTaken) = (new bool[pitches], new bool[k]);
        for (var step = 0; step < pitches; step++)
        {
            var (bestP, bestC, best) = (-1, -1, double.NegativeInfinity);
            for (var p = 0; p < pitches; p++)
                for (var c = 0; c < k; c++)
                    if (!pitchTaken[p] && !componentTaken[c] && correlation[p, c] > best) (bestP, bestC, best) = (p, c, correlation[p, c]);
            (components[bestP], pitchTaken[bestP], componentTaken[bestC]) = (bestC, true, true);
        }
        var peak = new double[k];
        for (var c = 0; c < k; c++)
        {
            for (var t = 0; t < frames; t++) peak[c] = Math.Max(peak[c], activity.Data[c * frames + t]);
            if (peak[c] <= 0) peak[c] = 1;
        }
        var (threshold, bestF) = (0.1, -1.0);
        for (var candidate = 0.01; candidate < 0.8; candidate += 0.01)
        {
            var f = Score(Detect(activity, components, peak, candidate), roll).F;
            if (f > bestF) (threshold, bestF) = (candidate, f);
        }
        return new NoteDetector(components, peak, threshold);
    }

    /// <summary>The piano roll (pitches × frames, 0 or 1) that <paramref name="activity"/> implies.</summary>
    public NdArray Detect(NdArray activity) => Detect(activity, [.. ComponentOfPitch], [.. Peak], Threshold);

    static NdArray Detect(NdArray activity, int[] components, double[] peak, double threshold)
    {
        if (activity.Rows != peak.Length) throw new InvalidInputException($"activity has {activity.Rows} components, the detector was calibrated with {peak.Length}");
        var frames = activity.Columns;
        var roll = new float[components.Length * frames];
        for (var p = 0; p < components.Length; p++)
        {
            var c = components[p];
            for (var t = 0; t < frames; t++)
                if (activity.Data[c * frames + t] > threshold * peak[c]) roll[p * frames + t] = 1;
        }
        return new NdArray([components.Length, frames], roll);
    }

    /// <summary>Frame-level counts of a detected roll against the truth (both pitches × frames, non-zero = sounding).</summary>
    public static NoteDetectionScores Score(NdArray detected, NdArray truth)
    {
        if (!detected.Shape.SequenceEqual(truth.Shape)) throw new InvalidInputException($"detected roll {detected.ShapeText} and true roll {truth.ShapeText} differ in shape");
        int tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < truth.Data.Length; i++)
        {
            var (d, t) = (detected.Data[i] != 0, truth.Data[i] != 0);
            if (d && t) tp++;
            else if (d) fp++;
            else if (t) fn++;
        }
        return new NoteDetectionScores(tp, fp, fn);
    }

    static double Correlation(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ma = 0, mb = 0;
        for (var i = 0; i < a.Length; i++) { ma += a[i]; mb += b[i]; }
        (ma, mb) = (ma / a.Length, mb / a.Length);
        double ab = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var (x, y) = (a[i] - ma, b[i] - mb);
            (ab, aa, bb) = (ab + x * y, aa + x * x, bb + y * y);
        }
        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }
}
