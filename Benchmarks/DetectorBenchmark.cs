using System.Diagnostics;
using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Runtime;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;

namespace Pipeline.Benchmarks;

/// <summary>
/// The anomaly detectors side by side on the harder synthetic machine set at its default size (3 machine IDs, 30
/// training clips each, every fault kind at −30, −20 and −10 dB): each network trained by one recipe (Adam 1e-3, 8
/// epochs, the rate falling linearly over the second half; clip statistics are fitted in closed form), evaluated per fault kind, its training time beside the baseline
/// autoencoder's, and one 10 s clip scored end to end on one thread through its exported graph.
/// </summary>
static class DetectorBenchmark
{
    /// <summary>The detectors compared: a name, and the options beyond the shared recipe.</summary>
    static readonly (string Name, Func<AnomalyTrainingOptions, AnomalyTrainingOptions> Options)[] Detectors =
    [
        ("autoencoder (baseline)", o => o),
        ("autoencoder, band-normalised, auto aggregation", o => o with { NormalizeBands = true, Aggregation = "auto" }),
        ("interpolation network", o => o with { Detector = "idnn" }),
        ("interpolation network, band-normalised, auto", o => o with { Detector = "idnn", NormalizeBands = true, Aggregation = "auto" }),
        ("machine-ID classifier, auto aggregation", o => o with { Detector = "id-classifier", Aggregation = "auto" }),
        ("clip statistics", o => o with { Detector = "clip-stats" }),
    ];

    public static void Run(MachineLimits limits)
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-bench-detectors");
        if (Directory.Exists(root)) Directory.Delete(root, true);
        var data = Path.Combine(root, "data");
        var clock = Stopwatch.StartNew();
        new MachineSynth(0).WriteDataSet(data, machines: 3, trainPerMachine: 30, testNormalPerMachine: 15, anomaliesPerKindAndLevel: 1);
        var set = AnomalyDataset.Open(data);
        Console.WriteLine($"harder machine set: {set.Train.Count} training clips, {set.Test.Count(c => !c.IsAnomaly)} normal and {set.Test.Count(c => c.IsAnomaly)} anomalous test clips ({clock.Elapsed.TotalSeconds:F1} s to write)");
        var recipe = new AnomalyTrainingOptions
        {
            CacheDirectory = Path.Combine(root, "cache"),
            Training = new() { Epochs = 8, ConstantEpochs = 4, LearningRate = 1e-3, FinalLearningRate = 1e-5 },
        };
        AnomalyTraining.Train(set with { Test = [] }, recipe with { Training = recipe.Training with { Epochs = 1, ConstantEpochs = 1 } }); // fills the feature cache: every detector then trains on cached features

        var rows = new List<(string Name, AnomalyTrainingResult Result, double Seconds, double ScoreMs)>();
        foreach (var (name, options) in Detectors)
        {
            clock.Restart();
            var chosen = options(recipe);
            var result = AnomalyTraining.Train(set, chosen);
            var seconds = clock.Elapsed.TotalSeconds;
            var model = Path.Combine(root, "model-" + rows.Count);
            DetectorExport.Export(result.Model, model, "bench", chosen.FrontEnd, result.Scoring, errorWeights: result.ErrorWeights, embedding: result.Embedding);
            Pipeline.Shared.Threading.ComputeThreads.Max = 1; // the front end's loops too: the whole score on one core
            double ms;
            using (var scorer = new AnomalyScorer(model, new RuntimeOptions { Device = Device.Cpu, IntraOpThreads = 1 }))
            {
                var clip = set.Test[0].Path;
                ms = Timing.Median(() => scorer.ScoreFile(clip));
            }
            Pipeline.Shared.Threading.ComputeThreads.Max = 0;
            rows.Add((name, result, seconds, ms));
            Console.WriteLine($"  {name}: trained and evaluated in {seconds:F1} s, aggregation {result.Scoring.Aggregation}, AUC {Auc(result, "all"):F3}");
        }

        var baseline = rows[0];
        var kinds = baseline.Result.Metrics.Where(g => g.Group != "all" && !g.Group.StartsWith("id_", StringComparison.Ordinal) && !g.Group.StartsWith("at ", StringComparison.Ordinal)).Select(g => g.Group).ToList();
        var levels = baseline.Result.Metrics.Where(g => g.Group.StartsWith("at ", StringComparison.Ordinal)).Select(g => g.Group).ToList();
        Console.WriteLine();
        Console.WriteLine("AUC per fault kind (mean over kinds; worst kind; kinds ahead of the baseline, and kinds where both are perfect, 1.000)");
        Console.WriteLine($"  {"",-48}{string.Join("", kinds.Select(k => $"{Short(k),8}"))}{"mean",8}{"worst",8}{"ahead",7}{"level",7}");
        foreach (var (name, result, _, _) in rows)
        {
            var values = kinds.Select(k => Auc(result, k)).ToList();
            var ahead = kinds.Count(k => Auc(result, k) > Auc(baseline.Result, k));
            var perfect = kinds.Count(k => Auc(result, k) == 1 && Auc(baseline.Result, k) == 1);
            Console.WriteLine($"  {name,-48}{string.Join("", values.Select(v => $"{v,8:F3}"))}{values.Average(),8:F3}{values.Min(),8:F3}{(result == baseline.Result ? "" : $"{ahead}/{kinds.Count}"),7}{(result == baseline.Result ? "" : $"{perfect}"),7}");
        }
        Console.WriteLine("AUC and pAUC (FPR ≤ 0.1) overall and per level");
        foreach (var (name, result, _, _) in rows)
            Console.WriteLine($"  {name,-48}all {Auc(result, "all"):F3} / {PAuc(result, "all"):F3}   {string.Join("   ", levels.Select(l => $"{l} {Auc(result, l):F3} / {PAuc(result, l):F3}"))}");
        Console.WriteLine("cost: training (8 epochs, incl. evaluation) beside the baseline's (target ≤ 3x); one 10 s clip scored end to end on one thread, median of 21 (target ≤ 50 ms)");
        foreach (var (name, result, seconds, ms) in rows)
            Console.WriteLine($"  {name,-48}{seconds,7:F1} s ({seconds / baseline.Seconds:F2}x)   {ms,6:F1} ms ({ms / 50:F2} of target)");
        Directory.Delete(root, true);
    }

    static double Auc(AnomalyTrainingResult result, string group) => result.Metrics.FirstOrDefault(g => g.Group == group)?.Scores.Auc ?? double.NaN;
    static double PAuc(AnomalyTrainingResult result, string group) => result.Metrics.FirstOrDefault(g => g.Group == group)?.Scores.PartialAuc ?? double.NaN;
    static string Short(string kind) => kind.Length <= 7 ? kind : kind[..7];
}
