using System.Text.Json;
using Pipeline.Shared.Files;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// Writes what an anomaly job measured into a folder: <c>evaluation.json</c> (metrics per group, every clip's
/// score, the loss history), and as SVG and PNG: <c>loss</c> (training and validation loss per epoch), <c>roc</c>
/// (the test set's ROC curve, its pAUC region and the operating point of the model's threshold) and <c>scores</c>
/// (score histograms of normal and anomalous clips with the threshold).
/// </summary>
public static class AnomalyReport
{
    /// <summary>Writes the folder (atomically) and returns the files written; <paramref name="maxFpr"/> is the pAUC's p the metrics used.</summary>
    public static IReadOnlyList<string> Write(string directory, AnomalyTrainingResult result, double maxFpr = 0.1)
    {
        var names = new List<string>();
        AtomicFile.WriteDirectory(directory, folder =>
        {
            void Save(string name, string text) { File.WriteAllText(Path.Combine(folder, name), text); names.Add(Path.Combine(directory, name)); }
            Save("evaluation.json", Json(result));
            void Chart(string name, ScottPlot.Plot plot, int width = Figure.DefaultWidth, int height = Figure.DefaultHeight)
            {
                Figure.WriteChart(plot, Path.Combine(folder, name + ".svg"), width, height);
                names.AddRange([Path.Combine(directory, name + ".svg"), Path.Combine(directory, name + ".png")]);
            }
            var history = result.History;
            if (result.Model is not Networks.ClipStatistics) // fitted in closed form: no epochs to plot
                Chart("loss", LineChart.Draw("Reconstruction loss per epoch", "epoch", "mean squared error",
                    history.ValidationLoss.Count > 0
                        ? [Series.PerStep("training", history.TrainLoss), Series.PerStep("validation", history.ValidationLoss, dashed: true)]
                        : [Series.PerStep("training", history.TrainLoss)]));
            var normal = result.Test.Where(c => !c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            var anomaly = result.Test.Where(c => c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            if (normal.Count > 0 && anomaly.Count > 0)
            {
                var all = result.Metrics.First(m => m.Group == "all").Scores;
                var threshold = result.Scoring.Threshold;
                Chart("roc", RocChart.Draw($"ROC on the test clips (AUC {all.Auc:F3}, pAUC {all.PartialAuc:F3})", [new RocCurve("detector", normal, anomaly, threshold)], maxFpr), 640, 600);
                Chart("scores", ScoreHistogram.Draw("Anomaly scores of the test clips", normal, anomaly, threshold));
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
