using System.CommandLine;
using System.Diagnostics;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Files;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Plots;
using Pipeline.Training.Engine;
using Pipeline.Training.Export;
using Pipeline.Training.Networks;
using Pipeline.Training.Synthesis;
using Pipeline.Shared.Errors;
using Pipeline.Training.Trainers;

/// <summary><c>pipeline-train synth machine</c> and <c>pipeline-train anomaly</c>.</summary>
static class AnomalyCommands
{
    /// <summary>"all" or a comma-separated list of fault kinds by their lower-case names.</summary>
    static IReadOnlyList<AnomalyKind> FaultKinds(string text)
    {
        if (text.Trim() == "all") return MachineSynth.AllKinds;
        var names = MachineSynth.AllKinds.ToDictionary(k => k.ToString().ToLowerInvariant());
        var kinds = new List<AnomalyKind>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
            kinds.Add(names.TryGetValue(part, out var kind) ? kind
                : throw new InvalidOptionException($"--kinds takes all, or some of {string.Join(", ", names.Keys)}; not '{part}'"));
        return [.. kinds.Distinct()];
    }

    public static Command Synth(CommonOptions cli)
    {
        var output = new Option<string>("--out", "-o") { Description = "Directory to write (train_normal/, test_normal/, test_anomaly/)", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed: the same seed writes the same files", DefaultValueFactory = _ => 1 };
        var machines = new Option<int>("--machines") { Description = "Machine IDs", DefaultValueFactory = _ => 3 };
        var train = new Option<int>("--train") { Description = "Normal training clips per machine", DefaultValueFactory = _ => 30 };
        var testNormal = new Option<int>("--test-normal") { Description = "Normal test clips per machine", DefaultValueFactory = _ => 15 };
        var anomalies = new Option<int>("--anomalies") { Description = "Test clips per machine, fault kind and level", DefaultValueFactory = _ => 1 };
        var kinds = new Option<string>("--kinds")
        {
            Description = $"Fault kinds, comma-separated: {string.Join(", ", MachineSynth.AllKinds.Select(k => k.ToString().ToLowerInvariant()))}, or all",
            DefaultValueFactory = _ => "all",
        };
        var levels = new Option<string>("--levels")
        {
            Description = "Fault levels in dB relative to the machine (the fault's RMS while it sounds against the machine's), comma-separated",
            DefaultValueFactory = _ => string.Join(",", MachineSynth.DefaultLevelsDb.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        };
        var seconds = new Option<double>("--seconds") { Description = "Clip length", DefaultValueFactory = _ => 10 };
        var machine = new Command("machine", """
            Write a deterministic ToyADMOS-like data set: a toy-car motor (harmonics with speed wobble, gear mesh,
            background noise) per machine ID, each ID with its own character, and eleven kinds of fault: periodic
            bearing impacts, imbalance, shifted harmonics, rattle, a missing gear tooth, brief clicks, crackle, a
            squeal, a whine, a slow change of speed and load, and a raised noise floor, each mixed in at every
            --levels (dB of the fault while it sounds, relative to the machine). 16 kHz mono WAV.

            Example:
              pipeline-train synth machine --out artifacts/data/machine --seed 1
              pipeline-train synth machine --out hard --kinds clicks,crackle --levels -30,-20
            """) { output, seed, machines, train, testNormal, anomalies, kinds, levels, seconds, cli.Force };
        machine.SetAction(parse =>
        {
            var log = cli.Log(parse);
            using var outputs = cli.Outputs(parse);
            outputs.DeclareFolder(parse.GetValue(output)!, OutputFolderKind.DataSet);
            var synth = new MachineSynth(parse.GetValue(seed), seconds: parse.GetValue(seconds));
            // the set is written anyway (a test of short-clip handling wants one), but a user should hear it will not train
            var shortest = FrontEndConfig.DcaseLogMel.MinimumSamples / (double)FrontEndConfig.DcaseLogMel.SampleRate;
            if (parse.GetValue(seconds) < shortest)
                log.WriteLine($"warning: clips of {parse.GetValue(seconds)} s are shorter than the {shortest:0.###} s the anomaly detectors' default context needs; pipeline-train anomaly will refuse them (--context, or longer --seconds)");
            var faultKinds = FaultKinds(parse.GetValue(kinds)!);
            var faultLevels = OptionParsing.Numbers(parse.GetValue(levels)!, "--levels");
            var clock = Stopwatch.StartNew();
            var total = parse.GetValue(machines) * (parse.GetValue(train) + parse.GetValue(testNormal) + faultKinds.Count * faultLevels.Length * parse.GetValue(anomalies));
            using var bar = new ProgressBar(log, total, "synth");
            var count = 0;
            outputs.WriteFolder(parse.GetValue(output)!, folder => count = synth.WriteDataSet(folder, parse.GetValue(machines), parse.GetValue(train),
                parse.GetValue(testNormal), parse.GetValue(anomalies), new SynchronousProgress<(int Done, int Total)>(p => bar.Update(p.Done, "")), faultKinds, faultLevels));
            outputs.Commit();
            bar.Dispose();
            log.WriteLine($"wrote {count} clips to {parse.GetValue(output)} in {clock.Elapsed.TotalSeconds:F1} s");
            cli.Summary(parse, new Dictionary<string, object?> { ["output"] = parse.GetValue(output), ["clips"] = count, ["seconds"] = clock.Elapsed.TotalSeconds });
            return CommandLineHost.Success;
        });
        return new Command("synth", "Write synthetic data sets.") { machine, Piano(cli) };
    }

    static Command Piano(CommonOptions cli)
    {
        var output = new Option<string>("--out", "-o") { Description = "Directory to write (train.wav, test.wav, voices, V_*.npy, roll_*.npy, notes.csv)", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed: the same seed writes the same files", DefaultValueFactory = _ => 1 };
        var train = new Option<double>("--train-seconds") { Description = "Length of the training part", DefaultValueFactory = _ => 30 };
        var test = new Option<double>("--test-seconds") { Description = "Length of the held-out part", DefaultValueFactory = _ => 15 };
        var nFft = new Option<int>("--n-fft") { Description = "FFT size of V", DefaultValueFactory = _ => 2048 };
        var hop = new Option<int>("--hop-length") { Description = "Samples between frames of V and of the piano roll", DefaultValueFactory = _ => 512 };
        var piano = new Command("piano", """
            Write a piano-like piece whose notes are known: two voices over eight pitches (A2 C3 E3 G3 | C5 D5 E5 G5),
            harmonic tones with decaying partials, a training part and a held-out part, each voice alone, the
            magnitude spectrograms and the ground-truth piano rolls. 22 050 Hz float WAV.

            Example:
              pipeline-train synth piano --out artifacts/data/piano --seed 1
            """) { output, seed, train, test, nFft, hop, cli.Force };
        piano.SetAction(parse =>
        {
            var log = cli.Log(parse);
            using var outputs = cli.Outputs(parse);
            outputs.DeclareFolder(parse.GetValue(output)!, OutputFolderKind.DataSet);
            var (trainSeconds, testSeconds) = (parse.GetValue(train), parse.GetValue(test));
            if (!(trainSeconds >= 1) || !(testSeconds >= 1)) throw new InvalidOptionException($"--train-seconds and --test-seconds must be ≥ 1, got {trainSeconds} and {testSeconds}");
            var synth = new PianoSynth(parse.GetValue(seed));
            outputs.WriteFolder(parse.GetValue(output)!, folder => synth.WriteDataSet(folder, trainSeconds, testSeconds, parse.GetValue(nFft), parse.GetValue(hop)));
            outputs.Commit();
            log.WriteLine($"wrote a {trainSeconds + testSeconds:F0} s piece over {synth.Pitches.Count} pitches to {parse.GetValue(output)}");
            cli.Summary(parse, new Dictionary<string, object?> { ["output"] = parse.GetValue(output), ["pitches"] = synth.Pitches, ["sample_rate"] = synth.SampleRate });
            return CommandLineHost.Success;
        });
        return piano;
    }

    public static Command Train(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var defaults = new AnomalyTrainingOptions();
        var training = defaults.Training;
        var data = new Option<string>("--data", "-d") { Description = "Data set: ToyADMOS layout (train_normal/, test_normal/, test_anomaly/) or DCASE (train/, test/)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Model folder to write", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs (the DCASE 2020 Task 2 baseline: 200)", DefaultValueFactory = _ => training.Epochs };
        var constant = new Option<int?>("--constant-epochs") { Description = "Epochs at the initial rate before the linear decay (default: half the epochs)" };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => training.LearningRate };
        var finalLr = new Option<double>("--final-lr") { Description = "Learning rate at the last epoch", DefaultValueFactory = _ => training.FinalLearningRate };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Adam weight decay", DefaultValueFactory = _ => training.WeightDecay };
        var batch = new Option<int>("--batch-size") { Description = "Frames per mini-batch", DefaultValueFactory = _ => training.BatchSize };
        var seed = new Option<long>("--seed") { Description = "Seed of weights, dropout, shuffling and the validation split", DefaultValueFactory = _ => 0 };
        var aggregation = new Option<string?>("--aggregation")
        {
            Description = "File score from frame errors: max, mean, top-p% (the mean of the highest p % of frames, e.g. top-5%), or auto (chosen on the validation normals with synthetic faults; never on test clips). Default: max for ae and idnn, mean for id-classifier; clip-stats scores whole clips and takes none",
        };
        var bandNorm = new Option<bool>("--band-norm") { Description = "ae, idnn: divide each value's squared error by its mean on the normal training frames before averaging a frame's error" };
        var channels = new Option<string>("--channels") { Description = "id-classifier: channels of each convolutional block", DefaultValueFactory = _ => string.Join(",", defaults.Channels) };
        var trim = new Option<int>("--trim") { Description = "Frames dropped at each end before aggregating", DefaultValueFactory = _ => defaults.TrimFrames };
        var fpr = new Option<double>("--target-fpr") { Description = "FPR on validation normals that sets the decision threshold", DefaultValueFactory = _ => defaults.TargetFpr };
        var threshold = new Option<double?>("--threshold") { Description = "A fixed decision threshold instead of --target-fpr" };
        var cache = new Option<string?>("--cache") { Description = "Feature cache directory" };
        var skipBad = AudioInputs.SkipBadOption();
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in the output folder's .checkpoint file" };
        var name = new Option<string?>("--name") { Description = "Model name (default: the folder's name)" };
        var stateDict = new Option<string?>("--state-dict") { Description = "Also write the trained network's state dict: PyTorch's format (torch.load reads it), or safetensors for a .safetensors name" };
        var nMels = new Option<int>("--n-mels") { Description = "Mel bands of the log-mel front end", DefaultValueFactory = _ => FrontEndConfig.DcaseLogMel.NMels };
        var context = new Option<int>("--context") { Description = "Context frames on each side (the DCASE baseline: 10, so 20 frames per input)", DefaultValueFactory = _ => defaults.FrontEnd.ContextBefore };
        var hidden = new Option<string>("--hidden") { Description = "Encoder widths, the last being the code", DefaultValueFactory = _ => string.Join(",", defaults.Hidden) };
        var detector = new Option<string>("--detector")
        {
            Description = "ae: the autoencoder reconstructing each context window (the DCASE 2020 Task 2 baseline); idnn: the interpolation network predicting each window's centre frame from the frames around it; id-classifier: a convolutional network telling the machine IDs of the type apart (needs two or more IDs); clip-stats: each clip's band means, spreads and maxima against its machine ID's normal clips (fitted in closed form: no epochs, no context)",
            DefaultValueFactory = _ => defaults.Detector,
        };
        var command = new Command("anomaly", """
            Train a detector on normal sounds (the DCASE 2020 Task 2 baseline autoencoder, the interpolation network, the
            machine-ID classifier, or clip statistics), evaluate it on the test part, export the scorer. Thresholds and
            the aggregation are chosen from normal clips only.

            Example:
              pipeline-train anomaly --data artifacts/data/machine --epochs 200 --out artifacts/models/ae
              pipeline-train anomaly --band-norm --aggregation auto --data artifacts/data/machine --out artifacts/models/ae-norm
              pipeline-train anomaly --detector idnn --data artifacts/data/machine --out artifacts/models/idnn
              pipeline-train anomaly --detector id-classifier --lr 1e-3 --data artifacts/data/machine --out artifacts/models/id-classifier
              pipeline-train anomaly --detector clip-stats --data artifacts/data/machine --out artifacts/models/clip-stats
            """) { detector, data, output, epochs, constant, lr, finalLr, weightDecay, batch, seed, aggregation, bandNorm, trim, fpr, threshold, cache, resume, name, stateDict, nMels, context, hidden, channels, skipBad, cli.Force };
        command.SetAction(parse =>
        {
            var cancellation = CommandLineHost.Cancellation;
            var log = cli.Log(parse);
            var outDir = parse.GetValue(output)!;
            using var outputs = cli.Outputs(parse);
            outputs.DeclareInput(parse.GetValue(data)!);
            if (parse.GetValue(cache) is { } cacheFolder) outputs.DeclareWorkFolder(cacheFolder);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            if (parse.GetValue(stateDict) is { } stateDictPath) outputs.DeclareFile(stateDictPath);
            var checkpoint = outDir.TrimEnd('/') + ".checkpoint"; // beside the model, named as the user named it
            if (parse.GetValue(resume) && parse.GetValue(detector) == "clip-stats")
                throw new InvalidOptionException("--resume: clip statistics are fitted in closed form in seconds and keep no checkpoint; run without --resume");
            if (parse.GetValue(resume) && !File.Exists(checkpoint))
                throw new InvalidOptionException($"--resume: there is no checkpoint at {checkpoint} (it is written after every epoch and removed when a job finishes); run without --resume to start from the beginning");
            var widths = OptionParsing.Widths(parse.GetValue(hidden)!, "--hidden", string.Join(",", defaults.Hidden));
            var options = defaults with
            {
                Detector = parse.GetValue(detector)!,
                FrontEnd = FrontEndConfig.DcaseLogMel with { NMels = parse.GetValue(nMels), ContextBefore = parse.GetValue(context), ContextAfter = parse.GetValue(context) },
                Hidden = widths,
                Channels = OptionParsing.Widths(parse.GetValue(channels)!, "--channels", string.Join(",", defaults.Channels)),
                NormalizeBands = parse.GetValue(bandNorm),
                Training = training with
                {
                    Epochs = parse.GetValue(epochs),
                    ConstantEpochs = parse.GetValue(constant) ?? parse.GetValue(epochs) / 2,
                    LearningRate = parse.GetValue(lr), FinalLearningRate = parse.GetValue(finalLr), WeightDecay = parse.GetValue(weightDecay),
                    BatchSize = parse.GetValue(batch), Seed = parse.GetValue(seed), CheckpointPath = checkpoint, Resume = parse.GetValue(resume),
                },
                Device = parse.GetValue(device),
                Aggregation = parse.GetValue(aggregation),
                TrimFrames = parse.GetValue(trim), TargetFpr = parse.GetValue(fpr), Threshold = parse.GetValue(threshold),
                CacheDirectory = parse.GetValue(cache), SkipBadFiles = parse.GetValue(skipBad),
            };
            options.Validate();
            var where = TorchDevice.Describe(TorchDevice.Resolve(options.Device)); // a missing CUDA is refused before any file is read
            foreach (var warning in new FeatureExtractor(options.FrontEnd).Warnings) log.WriteLine($"warning: {warning}");
            var set = AnomalyDataset.Open(parse.GetValue(data)!);
            log.WriteLine($"{set.Layout} data: {set.Train.Count} training clips, {set.Test.Count} test clips ({set.Test.Count(c => c.IsAnomaly)} anomalous); training on {where}");
            foreach (var warning in AnomalyTraining.Warnings(set, options)) log.WriteLine($"warning: {warning}");
            if (options.Detector == "clip-stats" && new Option[] { epochs, constant, lr, finalLr, weightDecay, batch, hidden, channels, context }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList() is { Count: > 0 } unused)
                log.WriteLine($"warning: clip statistics are fitted in closed form from each clip's band statistics; {string.Join(", ", unused)} {(unused.Count == 1 ? "does" : "do")} not apply");
            else if (options.Detector != "id-classifier" && parse.GetResult(channels) is { Implicit: false }) log.WriteLine($"warning: --channels shapes the machine-ID classifier; --detector {options.Detector} does not use it");
            if (options.Detector == "id-classifier" && parse.GetResult(hidden) is { Implicit: false }) log.WriteLine("warning: --hidden shapes the autoencoder and the interpolation network; the machine-ID classifier takes --channels");
            var clock = Stopwatch.StartNew();
            ProgressBar? bar = null;
            AnomalyTrainingResult result;
            var gate = new Lock(); // feature files load in parallel
            var featureReports = 0;
            try
            {
                // progress runs on the reporting thread, so Ctrl-C (thrown from an update) stops the work itself
                result = AnomalyTraining.Train(set, options,
                    new SynchronousProgress<FeatureLoadProgress>(p =>
                    {
                        lock (gate) // reports arrive out of order; each loading phase sends exactly Total of them
                        {
                            bar ??= new ProgressBar(log, p.Total, "features");
                            bar.Update(++featureReports, Path.GetFileName(p.File));
                            if (featureReports == p.Total) { bar.Dispose(); (bar, featureReports) = (null, 0); }
                        }
                    }),
                    new SynchronousProgress<BatchReport>(b => { if (b.Batch == 1) { bar?.Dispose(); bar = new ProgressBar(log, b.Batches, $"epoch {b.Epoch}/{b.Epochs}", transient: true); } bar!.Update(b.Batch, $"loss {b.Loss:F4}"); }),
                    new SynchronousProgress<EpochReport>(e =>
                    {
                        bar?.Dispose();
                        bar = null;
                        log.WriteLine($"epoch {e.Epoch}/{e.Epochs}  loss {e.TrainLoss:F5}  validation {e.ValidationLoss:F5}  lr {e.LearningRate:G3}  elapsed {e.Elapsed:hh\\:mm\\:ss}  ETA {e.Remaining:hh\\:mm\\:ss}");
                    }),
                    cancellation);
            }
            catch (OperationCanceledException)
            {
                bar?.Dispose();
                if (File.Exists(checkpoint)) log.WriteLine($"the last finished epoch is kept in {checkpoint}; continue with --resume");
                throw;
            }
            bar?.Dispose();
            foreach (var problem in result.Skipped) log.WriteLine($"warning: skipped {problem.Message}");
            foreach (var note in result.Notes) log.WriteLine($"note: {note}");
            if (result.AggregationRatings.Count > 0)
                log.WriteLine($"aggregation {result.Scoring.Aggregation}, {(result.AggregationRatings.Max(r => r.Separation) > 0 ? "chosen" : "kept, none being chosen")} on the validation normals with synthetic faults (d′ burst/tone: {string.Join(", ", result.AggregationRatings.Select(r => $"{r.Aggregation} {r.Burst:F1}/{r.Tone:F1}"))})");
            var modelName = parse.GetValue(name) ?? Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/'));
            var epochsRun = options.Detector == "clip-stats" ? 0 : options.Training.Epochs; // fitted in closed form
            var summary = new TrainingSummary((int)options.Training.Seed, epochsRun, epochsRun, 0, true, result.History.TrainLoss[^1],
                [result.TrainFrames, options.DetectorFrontEnd.Dimensions], Path.GetFileName(Path.GetFullPath(set.Directory).TrimEnd('/')), result.TrainingMachineIds);
            outputs.WriteFolder(outDir, folder =>
            {
                void Export(AnomalyScoring scoring) => DetectorExport.Export(result.Model, folder, modelName, options.FrontEnd, scoring, summary, result.ErrorWeights, result.Embedding);
                if (result.CalibrationClips.Count == 0) Export(result.Scoring);
                else
                {
                    var recordings = ServingCalibration.Recordings(result.CalibrationClips.Select(c => c.Path).ToList(), result.Validation.Count > 0 ? "validation normal clips" : "training clips");
                    IReadOnlyList<double> served = [];
                    result = result.WithScoring(ServingCalibration.ExportCalibrated(folder, Export, result.Scoring,
                        scorer => { var scored = recordings(scorer); served = scored.Item1; return scored; }, options.TargetFpr));
                    // the threshold was placed on the served scores: the report shows the validation clips as served, not as trained
                    if (result.Validation.Count > 0) result = result.WithServedValidationScores(served);
                }
                AnomalyReport.Write(Path.Combine(folder, "evaluation"), result, options.TargetFpr);
            });
            if (parse.GetValue(stateDict) is { } statePath) outputs.WriteFile(statePath, stream => StateDicts.Save(result.Model, stream, statePath));
            outputs.Commit();
            var reportDir = Path.Combine(outDir, "evaluation");
            log.WriteLine($"threshold {result.Scoring.Threshold:G5} ({result.Scoring.ThresholdRule}); trained in {clock.Elapsed.TotalMinutes:F1} min");
            foreach (var g in result.Metrics)
                log.WriteLine($"  {g.Group,-22} AUC {g.Scores.Auc:F3}  pAUC {g.Scores.PartialAuc:F3}  F1 {g.Scores.F1:F3}  ({g.Scores.Normals} normal, {g.Scores.Anomalies} anomalous)");
            log.WriteLine($"wrote {outDir} (plots and per-clip scores in {reportDir})");
            if (File.Exists(checkpoint)) File.Delete(checkpoint);
            cli.Summary(parse, new Dictionary<string, object?>
            {
                ["model"] = outDir, ["epochs"] = epochsRun, ["train_loss"] = result.History.TrainLoss, ["validation_loss"] = result.History.ValidationLoss,
                ["threshold"] = result.Scoring.Threshold, ["threshold_rule"] = result.Scoring.ThresholdRule, ["aggregation"] = result.Scoring.Aggregation,
                ["machine_ids"] = result.TrainingMachineIds, ["skipped"] = result.Skipped.Select(p => p.Message).ToList(), ["notes"] = result.Notes, ["pictures_seconds"] = Figure.TimeSpent.TotalSeconds,
                ["metrics"] = result.Metrics.ToDictionary(g => g.Group, g => new { auc = g.Scores.Auc, pauc = g.Scores.PartialAuc, f1 = g.Scores.F1, normals = g.Scores.Normals, anomalies = g.Scores.Anomalies }),
            });
            return CommandLineHost.Success;
        });
        return command;
    }
}
