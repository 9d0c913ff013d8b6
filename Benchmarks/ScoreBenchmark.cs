using System.Diagnostics;
using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Audio;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;
using Pipeline.Training.Trainers;

namespace Pipeline.Benchmarks;

/// <summary>
/// The anomaly job at full size: one training epoch over 100 synthetic 10 s clips (the DCASE 2020 Task 2 baseline recipe) beside the
/// autoencoder's FLOP roofline; then, through ONNX Runtime with 2 threads, scoring one 10 s clip end to end
/// (read, features, graph, aggregation) and a directory of 200 clips the way <c>pipeline-infer score</c> does.
/// </summary>
static class ScoreBenchmark
{
    public static void Run(MachineLimits limits)
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-bench-score");
        if (Directory.Exists(root)) Directory.Delete(root, true);
        var synth = new MachineSynth(1);
        var data = Path.Combine(root, "data");
        synth.WriteDataSet(data, machines: 2, trainPerMachine: 50, testNormalPerMachine: 50, anomaliesPerKindAndLevel: 0);

        TimeSpan epoch = default;
        var clock = Stopwatch.StartNew();
        var options = new AnomalyTrainingOptions { Training = new() { Epochs = 1, ConstantEpochs = 0 } };
        var set = AnomalyDataset.Open(data) with { Test = [] };
        var result = AnomalyTraining.Train(set, options, epochs: new Shared.Threading.SynchronousProgress<EpochReport>(e => epoch = e.Elapsed));
        var total = clock.Elapsed;
        var macs = result.Model.parameters().Where(p => p.dim() == 2).Sum(p => p.numel());
        var flops = (6.0 * macs - 2.0 * 1280 * 512) * result.TrainFrames;
        var roofline = flops / (limits.SgemmGflops * 1e9);
        Console.WriteLine($"anomaly training: one epoch over {set.Train.Count - result.Validation.Count} clips ({result.TrainFrames} frames)");
        Console.WriteLine($"  {epoch.TotalSeconds,6:F2} s/epoch   roofline {roofline:F2} s   x roofline {epoch.TotalSeconds / roofline:F2}   (job incl. features and validation: {total.TotalSeconds:F1} s)");

        var model = Path.Combine(root, "model");
        DetectorExport.Export(result.Model, model, "bench", options.FrontEnd, result.Scoring);
        var clips = Directory.GetFiles(Path.Combine(data, "test_normal")).Concat(Directory.GetFiles(Path.Combine(data, "train_normal"))).Take(200).ToList();
        var forwardFlops = 2.0 * macs * 1001;
        Console.WriteLine($"scoring one 10 s clip end to end (read, log-mel, ONNX Runtime {OnnxRuntimeEnvironment.Version} on the CPU, aggregation), median of 21;");
        Console.WriteLine($"  the graph alone on its 1001 × 1280 features; graph FLOP roofline {forwardFlops / (limits.SgemmGflops * 1e9) * 1e3:F1} ms at 2 threads");
        foreach (var threads in new[] { 1, 2 })
        {
            // the front end's loops too: "1 thread" is the whole score on one core
            Pipeline.Shared.Threading.ComputeThreads.Max = threads;
            using var scorer = new AnomalyScorer(model, new RuntimeOptions { Device = Device.Cpu, IntraOpThreads = threads });
            var extractor = new FeatureExtractor(scorer.FrontEnd!);
            var features = extractor.ExtractFile(clips[0]);
            var n = 0;
            var endToEnd = Timing.Median(() => scorer.ScoreFile(clips[n++ % clips.Count]));
            var graph = Timing.Median(() => scorer.FrameErrors(features));
            var frontEnd = Timing.Median(() => extractor.ExtractFile(clips[n++ % clips.Count]));
            Console.WriteLine($"  {threads} thread{(threads > 1 ? "s" : " ")}: {endToEnd,6:F1} ms end to end (target 50 ms: {endToEnd / 50:F2} of it)   graph {graph,5:F1} ms ({forwardFlops / graph / 1e6:F0} GFLOP/s)   read + features {frontEnd,5:F1} ms");
        }

        Pipeline.Shared.Threading.ComputeThreads.Max = 0;
        using var directoryScorer = new AnomalyScorer(model, new RuntimeOptions { Device = Device.Cpu, IntraOpThreads = 2 });
        var all = Stopwatch.StartNew();
        Parallel.ForEach(clips, clip => directoryScorer.ScoreFile(clip));
        var rate = clips.Count / all.Elapsed.TotalSeconds;
        Console.WriteLine($"scoring a directory of {clips.Count} clips (files in parallel, as pipeline-infer score)");
        Console.WriteLine($"  {rate,6:F1} clips/s   target 25 clips/s ({rate / 25:F2}x of it)   {all.Elapsed.TotalSeconds:F2} s");
        Directory.Delete(root, true);
    }
}
