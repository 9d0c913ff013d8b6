using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// Places an exported anomaly model's decision threshold on the scores its exported graph gives on ONNX Runtime
/// (float32, the serving arithmetic) rather than on the training engine's: a threshold set on double-precision
/// training scores can sit a rounding error below the score the same file gets when served, and turn "10 % of the
/// training files score above the threshold" into all of them.
/// </summary>
public static class ServingCalibration
{
    /// <summary>
    /// Exports the scorer into <paramref name="modelDirectory"/> through <paramref name="export"/>, scores the
    /// calibration data with it, and exports it again with the threshold that at most <paramref name="targetFpr"/>
    /// of those scores exceed.
    /// </summary>
    /// <param name="rule">Aggregation and trim; its threshold and rule text are replaced.</param>
    /// <param name="scores">The calibration data's scores by the exported scorer: <see cref="FeatureFiles"/>, <see cref="Samples"/> or <see cref="Recordings"/>.</param>
    /// <returns>The scoring rule written, threshold included.</returns>
    public static AnomalyScoring ExportCalibrated(string modelDirectory, Action<AnomalyScoring> export, AnomalyScoring rule,
        Func<AnomalyScorer, (IReadOnlyList<double> Scores, string What)> scores, double targetFpr)
    {
        export(rule with { Threshold = 0, ThresholdRule = "provisional, replaced by calibration" });
        IReadOnlyList<double> values;
        string what;
        using (var scorer = new AnomalyScorer(modelDirectory)) (values, what) = scores(scorer);
        var calibrated = rule with
        {
            Threshold = DetectionMetrics.ThresholdAtFpr(values, targetFpr),
            ThresholdRule = DetectionMetrics.ThresholdRule(targetFpr, values.Count, what + ", scored by the exported graph"),
        };
        export(calibrated);
        return calibrated;
    }

    /// <summary>Each file's score from its already-computed features (frames, D), as <c>pipeline-infer score</c> aggregates it.</summary>
    public static Func<AnomalyScorer, (IReadOnlyList<double>, string)> FeatureFiles(IReadOnlyList<NdArray> files, string what = "training files") =>
        scorer => (files.Select((f, i) => scorer.ScoreFeatures(f, $"training file {i + 1}").Score).ToList(), what);

    /// <summary>Each row's frame error, for a model fitted on a matrix of samples (N, D).</summary>
    public static Func<AnomalyScorer, (IReadOnlyList<double>, string)> Samples(NdArray samples) => scorer =>
    {
        var errors = scorer.FrameErrors(samples);
        if (Array.FindIndex(errors, e => !float.IsFinite(e)) is >= 0 and var bad)
            throw new InvalidInputException($"training sample {bad} scores {errors[bad]} with the exported graph; the model cannot be calibrated");
        return (errors.Select(e => (double)e).ToList(), "training samples");
    };

    /// <summary>Each recording's score, read and scored end to end as served.</summary>
    public static Func<AnomalyScorer, (IReadOnlyList<double>, string)> Recordings(IReadOnlyList<string> paths, string what) =>
        scorer => (paths.Select(p => scorer.ScoreFile(p).Score).ToList(), what);
}
