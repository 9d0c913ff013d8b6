using Pipeline.Shared.Errors;

namespace Pipeline.Training.Anomaly;

/// <summary>AUC, pAUC and F1 with their ingredients.</summary>
public sealed record DetectionScores(int Normals, int Anomalies, double Auc, double PartialAuc, double Threshold, double F1, double Precision, double Recall);

/// <summary>
/// Detection metrics of scores where higher means more anomalous. AUC is the Mann–Whitney probability that an
/// anomaly outscores a normal (ties count half). pAUC follows the DCASE task definition: the area under the ROC
/// curve for FPR in [0, p], divided by p (so a perfect detector scores 1; no McClish correction). F1 is taken at
/// the threshold where the false-positive rate on the normals is p: anomalous means score &gt; threshold.
/// </summary>
public static class DetectionMetrics
{
    /// <summary>All metrics for one group of clips.</summary>
    public static DetectionScores Evaluate(IReadOnlyList<double> normal, IReadOnlyList<double> anomaly, double maxFpr = 0.1)
    {
        if (normal.Count == 0 || anomaly.Count == 0)
            throw new InvalidInputException($"metrics need normal and anomalous clips (got {normal.Count} and {anomaly.Count})");
        var threshold = ThresholdAtFpr(normal, maxFpr);
        var tp = anomaly.Count(s => s > threshold);
        var fp = normal.Count(s => s > threshold);
        var fn = anomaly.Count - tp;
        var precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        var recall = (double)tp / anomaly.Count;
        var f1 = tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
        return new DetectionScores(normal.Count, anomaly.Count, Auc(normal, anomaly), PartialAuc(normal, anomaly, maxFpr), threshold, f1, precision, recall);
    }

    /// <summary>P(anomaly score &gt; normal score) + ½·P(equal).</summary>
    public static double Auc(IReadOnlyList<double> normal, IReadOnlyList<double> anomaly)
    {
        double wins = 0;
        foreach (var a in anomaly)
            foreach (var n in normal)
                wins += a > n ? 1 : a == n ? 0.5 : 0;
        return wins / ((double)normal.Count * anomaly.Count);
    }

    /// <summary>The ROC curve: (FPR, TPR) points from (0, 0) to (1, 1), one step per distinct score.</summary>
    public static IReadOnlyList<(double Fpr, double Tpr)> RocCurve(IReadOnlyList<double> normal, IReadOnlyList<double> anomaly)
    {
        var all = normal.Select(s => (Score: s, Anomaly: false)).Concat(anomaly.Select(s => (Score: s, Anomaly: true)))
            .OrderByDescending(p => p.Score).ToList();
        var points = new List<(double, double)> { (0, 0) };
        int tp = 0, fp = 0;
        for (var i = 0; i < all.Count; i++)
        {
            if (all[i].Anomaly) tp++; else fp++;
            if (i + 1 < all.Count && all[i + 1].Score == all[i].Score) continue; // ties move together
            points.Add(((double)fp / normal.Count, (double)tp / anomaly.Count));
        }
        return points;
    }

    /// <summary>(1/p)·∫₀ᵖ TPR dFPR over the ROC curve, linear between its points.</summary>
    public static double PartialAuc(IReadOnlyList<double> normal, IReadOnlyList<double> anomaly, double maxFpr)
    {
        if (!(maxFpr > 0 && maxFpr <= 1)) throw new InvalidOptionException($"max FPR must lie in (0, 1], got {maxFpr}");
        var roc = RocCurve(normal, anomaly);
        double area = 0;
        for (var i = 1; i < roc.Count; i++)
        {
            var (x0, y0) = roc[i - 1];
            var (x1, y1) = roc[i];
            if (x0 >= maxFpr) break;
            if (x1 > maxFpr)
            {
                y1 = y0 + (y1 - y0) * (maxFpr - x0) / (x1 - x0);
                x1 = maxFpr;
            }
            area += (x1 - x0) * (y0 + y1) / 2;
        }
        return area / maxFpr;
    }

    /// <summary>
    /// How a threshold from <see cref="ThresholdAtFpr"/> on <paramref name="count"/> normal scores reads in a manifest and
    /// a log ("FPR 0.1 on the 20 validation normal clips"), saying so when they are too few for any to lie above it
    /// (fewer than 1 / FPR: the threshold is then their highest score, and the FPR on unseen normals can be anything
    /// from 0 up).
    /// </summary>
    /// <param name="what">What the scores are of ("validation normal clips").</param>
    public static string ThresholdRule(double fpr, int count, string what) =>
        $"FPR {fpr} on the {count} {(count == 1 ? what.Replace("clips", "clip") : what)}" + (Allowed(fpr, count) == 0 && fpr > 0
            ? $"; fewer than {Math.Ceiling(1 / fpr - 1e-9)}, so none may lie above it: the threshold is their highest score"
            : "");

    // normals allowed above the threshold
    static int Allowed(double fpr, int count) => (int)Math.Floor(fpr * count + 1e-9);

    /// <summary>The smallest normal score that at most a fraction <paramref name="fpr"/> of normals exceed.</summary>
    public static double ThresholdAtFpr(IReadOnlyList<double> normal, double fpr)
    {
        if (normal.Count == 0) throw new InvalidInputException("no normal scores to place a threshold on");
        if (!(fpr >= 0 && fpr < 1)) throw new InvalidOptionException($"target FPR must lie in [0, 1), got {fpr}");
        var sorted = normal.Order().ToArray();
        return sorted[sorted.Length - 1 - Allowed(fpr, sorted.Length)];
    }
}
