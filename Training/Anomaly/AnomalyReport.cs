using System.Text.Json;
using Pipeline.Shared.Files;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// Writes what an anomaly job measured into a folder: <c>evaluation.json</c> (metrics per group, every clip's
/// score, the loss history), <c>loss.svg</c> (training and validation loss per epoch), <c>roc.svg</c> (the test
/// set's ROC curve with the operating point of the model's threshold) and <c>scores.svg</c> (score histograms of
/// normal and anomalous clips with the threshold).
/// </summary>
public static class AnomalyReport
{
    /// <summary>Writes the folder (atomically) and returns the files written.</summary>
    public static IReadOnlyList<string> Write(string directory, AnomalyTrainingResult result)
    {
        var names = new List<string>();
        AtomicFile.WriteDirectory(directory, folder =>
        {
            void Save(string name, string text) { File.WriteAllText(Path.Combine(folder, name), text); names.Add(Path.Combine(directory, name)); }
            Save("evaluation.json", Json(result));
            var epochs = result.History.TrainLoss.Select((l, i) => ((double)i + 1, l)).ToList();
            var loss = new SvgChart("Reconstruction loss per epoch", "epoch", "mean squared error").Line("training", epochs);
            if (result.History.ValidationLoss.Count > 0)
                loss.Line("validation", result.History.ValidationLoss.Select((l, i) => ((double)i + 1, l)).ToList(), dashed: true);
            Save("loss.svg", loss.Render());
            var normal = result.Test.Where(c => !c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            var anomaly = result.Test.Where(c => c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            if (normal.Count > 0 && anomaly.Count > 0)
            {
                var all = result.Metrics.First(m => m.Group == "all").Scores;
                var threshold = result.Scoring.Threshold;
                var fpr = (double)normal.Count(s => s > threshold) / normal.Count;
                var tpr = (double)anomaly.Count(s => s > threshold) / anomaly.Count;
                Save("roc.svg", new SvgChart($"ROC on the test clips (AUC {all.Auc:F3}, pAUC {all.PartialAuc:F3})", "false-positive rate", "true-positive rate")
                    .XRange(0, 1).YRange(0, 1.02)
                    .Line("ROC", DetectionMetrics.RocCurve(normal, anomaly))
                    .Line("chance", [(0.0, 0.0), (1.0, 1.0)], "#999999", dashed: true)
                    .Point($"threshold (FPR {fpr:F2}, TPR {tpr:F2})", fpr, tpr, "#D55E00")
                    .Render());
                var edges = SvgChart.Bins(normal.Concat(anomaly).Append(threshold), 30);
                var histogram = new SvgChart("Anomaly scores of the test clips", "score", "clips")
                    .Histogram("normal", normal, edges).Histogram("anomalous", anomaly, edges);
                Save("scores.svg", histogram.Line($"threshold {threshold:G4}", [(threshold, 0.0), (threshold, Math.Max(normal.Count, anomaly.Count))], "#333333", dashed: true).Render());
            }
        });
        return names;
    }

    static string Json(AnomalyTrainingResult result) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["scoring"] = new Dictionary<string, object>
        {
            ["aggregation"] = result.Scoring.Aggregation, ["trim_frames"] = result.Scoring.TrimFrames,
            ["threshold"] = result.Scoring.Threshold, ["threshold_rule"] = result.Scoring.ThresholdRule,
        },
        ["metrics"] = result.Metrics.Select(g => new Dictionary<string, object>
        {
            ["group"] = g.Group, ["auc"] = g.Scores.Auc, ["pauc"] = g.Scores.PartialAuc, ["f1"] = g.Scores.F1,
            ["precision"] = g.Scores.Precision, ["recall"] = g.Scores.Recall, ["threshold_at_fpr"] = g.Scores.Threshold,
            ["normals"] = g.Scores.Normals, ["anomalies"] = g.Scores.Anomalies,
        }).ToList(),
        ["train_loss"] = result.History.TrainLoss,
        ["validation_loss"] = result.History.ValidationLoss,
        ["clips"] = result.Validation.Select(c => (Clip: c, Part: "validation")).Concat(result.Test.Select(c => (Clip: c, Part: "test")))
            .Select(p => new Dictionary<string, object>
            {
                ["file"] = p.Clip.Clip.Path, ["part"] = p.Part, ["machine"] = p.Clip.Clip.MachineId, ["anomaly"] = p.Clip.Clip.IsAnomaly,
                ["kind"] = p.Clip.Clip.Kind ?? "", ["score"] = p.Clip.Score, ["decision"] = p.Clip.Decision,
            }).ToList(),
    }, new JsonSerializerOptions { WriteIndented = true });
}
